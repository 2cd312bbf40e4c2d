package qwenchat.hub;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Talks to a Hugging Face-compatible hub: {@code {endpoint}/api/models/{repo}/revision/{rev}} lists
 * a repository's files, {@code {endpoint}/{repo}/resolve/{rev}/{file}} serves one (HEAD for its size
 * and ETag, GET with {@code Range} to resume). Redirects are followed by hand so the token goes only
 * to the hub itself, never to the CDN a large file is redirected to (presigned URLs reject it).
 */
final class HubClient {

    private static final Logger log = LoggerFactory.getLogger(HubClient.class);
    private static final int MAX_REDIRECTS = 8;
    private static final int BUFFER = 1 << 20;

    private final HubProperties settings;
    private final String endpoint;
    private final HttpClient http;

    HubClient(HubProperties settings) {
        this.settings = settings;
        String e = settings.endpoint().toString();
        this.endpoint = e.endsWith("/") ? e.substring(0, e.length() - 1) : e;
        this.http = HttpClient.newBuilder()
                .connectTimeout(settings.timeout())
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
    }

    String listingUrl() {
        return endpoint + "/api/models/" + settings.model() + "/revision/" + encodedRevision() + "?blobs=true";
    }

    String fileUrl(String file) {
        return endpoint + "/" + settings.model() + "/resolve/" + encodedRevision() + "/" + file;
    }

    /** The repository's files with what the listing says about their sizes and hashes. */
    List<RemoteFile> listFiles() {
        String url = listingUrl();
        String what = "the file list of " + settings.model();
        HttpResponse<InputStream> r = send(url, "GET", null, HttpResponse.BodyHandlers.ofInputStream(), what);
        byte[] body;
        // The request timeout ends at the headers; the body gets the idle-read watchdog like a file.
        try (InputStream in = new IdleTimeoutInputStream(r.body(), settings.readTimeout())) {
            if (r.statusCode() != 200) throw httpError(r.statusCode(), url, "repository " + settings.model());
            body = in.readAllBytes();
        } catch (IOException e) {
            throw unreachable(url, what, e);
        }
        JsonNode root;
        try {
            root = JsonMapper.builder().build().readTree(body);
        } catch (RuntimeException e) {
            throw new HubException(url + " did not answer JSON (" + e.getMessage() + "); is HF_ENDPOINT a Hugging Face-compatible hub?", e);
        }
        JsonNode siblings = root.path("siblings");
        if (!siblings.isArray()) throw new HubException(url + " has no 'siblings' array; is HF_ENDPOINT a Hugging Face-compatible hub?");
        List<RemoteFile> files = new ArrayList<>();
        for (JsonNode s : siblings) {
            String name = s.path("rfilename").asString(null);
            if (name == null) continue;
            JsonNode lfs = s.path("lfs");
            long size = lfs.path("size").asLong(s.path("size").asLong(-1));
            String sha256 = hex(lfs.path("sha256").asString(null), 64);
            String blob = lfs.isObject() ? null : hex(s.path("blobId").asString(null), 40);
            files.add(new RemoteFile(name, size, sha256, blob));
        }
        return files;
    }

    /** Size and hash from a HEAD on the resolve URL: the hub's X-Linked-* headers of a redirect, else the final answer's. */
    RemoteFile head(String file) {
        String url = fileUrl(file);
        HttpResponse<Void> r = send(url, "HEAD", null, HttpResponse.BodyHandlers.discarding(), file);
        if (r.statusCode() >= 400) throw httpError(r.statusCode(), url, "file " + file);
        long size = header(r, "X-Linked-Size").map(Long::parseLong)
                .orElse(header(r, "Content-Length").map(Long::parseLong).orElse(-1L));
        String etag = header(r, "X-Linked-Etag").or(() -> header(r, "ETag")).map(HubClient::unquote).orElse(null);
        return new RemoteFile(file, size, hex(etag, 64), hex(etag, 40));
    }

    /**
     * Fetches {@code file} into {@code part}, appending from its current length with a Range
     * request. Reports each chunk written (a negative count when the server ignored the range and
     * the part file starts over).
     *
     * @throws IOException when the connection fails, drops mid-body or stalls for longer than
     *     {@code qwen.hub.read-timeout} ({@link TransferStalledException}): the caller may resume
     */
    void fetch(String file, Path part, LongConsumer written) throws IOException {
        String url = fileUrl(file);
        long have = Files.exists(part) ? Files.size(part) : 0;
        HttpResponse<InputStream> r = sendOrThrowIo(url, have > 0 ? "bytes=" + have + "-" : null, file);
        int status = r.statusCode();
        try (InputStream in = new IdleTimeoutInputStream(r.body(), settings.readTimeout())) {
            if (status == 416 && have > 0) {
                // The part already holds the whole file (or more): let verification decide.
                return;
            }
            if (status >= 500 || status == 429) throw new IOException("HTTP " + status + " from " + url);
            if (status != 200 && status != 206) throw httpError(status, url, "file " + file);
            boolean append = status == 206;
            if (!append && have > 0) {
                log.info("{} ignored the range request; downloading {} from the start", url, file);
                written.accept(-have);
            }
            try (OutputStream out = Files.newOutputStream(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
                byte[] buf = new byte[BUFFER];
                int n;
                while ((n = in.read(buf)) > 0) {
                    out.write(buf, 0, n);
                    written.accept(n);
                    if (Thread.currentThread().isInterrupted()) throw new HubException("the download of " + file + " was cancelled");
                }
            }
        }
    }

    private HttpResponse<InputStream> sendOrThrowIo(String url, String range, String what) throws IOException {
        try {
            return sendRaw(url, "GET", range, HttpResponse.BodyHandlers.ofInputStream());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HubException("the download of " + what + " was cancelled", e);
        }
    }

    private <T> HttpResponse<T> send(String url, String method, String range, HttpResponse.BodyHandler<T> body, String what) {
        try {
            return sendRaw(url, method, range, body);
        } catch (IOException e) {
            throw unreachable(url, what, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HubException("fetching " + what + " from " + url + " was cancelled", e);
        }
    }

    private <T> HttpResponse<T> sendRaw(String url, String method, String range, HttpResponse.BodyHandler<T> body)
            throws IOException, InterruptedException {
        URI uri = URI.create(url);
        for (int hop = 0; ; hop++) {
            HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(settings.timeout())
                    .method(method, HttpRequest.BodyPublishers.noBody())
                    .header("User-Agent", "qwen-chat");
            if (range != null) b.header("Range", range);
            if (settings.token() != null && sameOrigin(uri)) b.header("Authorization", "Bearer " + settings.token());
            HttpResponse<T> r = http.send(b.build(), body);
            Optional<String> location = r.headers().firstValue("Location");
            boolean redirect = r.statusCode() / 100 == 3 && r.statusCode() != 304 && location.isPresent();
            // A HEAD keeps the hub's own redirect: its X-Linked-* headers describe the file.
            if (!redirect || (method.equals("HEAD") && r.headers().firstValue("X-Linked-Size").isPresent())) return r;
            if (hop >= MAX_REDIRECTS) throw new IOException("more than " + MAX_REDIRECTS + " redirects from " + url);
            if (r.body() instanceof InputStream in) in.close();
            uri = uri.resolve(location.get());
        }
    }

    private boolean sameOrigin(URI uri) {
        URI e = settings.endpoint();
        return uri.getHost() != null && uri.getHost().equalsIgnoreCase(e.getHost()) && uri.getPort() == e.getPort()
                && uri.getScheme().equalsIgnoreCase(e.getScheme());
    }

    HubException unreachable(String url, String what, IOException e) {
        String why = e instanceof ConnectException ? "connection refused or host unreachable"
                : e instanceof HttpConnectTimeoutException ? "connect timed out after " + describe(settings.timeout())
                : e instanceof HttpTimeoutException ? "no answer within " + describe(settings.timeout())
                : e instanceof TransferStalledException s ? "the transfer stalled: " + s.getMessage()
                : e.toString();
        return new HubException("cannot fetch " + what + " from " + url + ": " + why
                + "; check HF_ENDPOINT and the network, or mount the model and set QWEN_MODEL_DIR", e);
    }

    HubException httpError(int status, String url, String what) {
        String repo = settings.model() + " (revision " + settings.revision() + ")";
        return switch (status) {
            case 401 -> new HubException("HTTP 401 from " + url + ": " + (settings.token() == null
                    ? "the hub wants a token for " + repo + "; HF_TOKEN is missing"
                    : "the hub rejected HF_TOKEN for " + repo + " (wrong or expired token)"));
            case 403 -> new HubException("HTTP 403 from " + url + ": " + (settings.token() == null
                    ? repo + " is gated; set HF_TOKEN to a token of an account with access"
                    : "HF_TOKEN has no access to " + repo + " (a gated model: accept its terms on the hub first)"));
            case 404 -> new HubException("HTTP 404 from " + url + ": " + what + " not found in " + repo);
            default -> new HubException("HTTP " + status + " from " + url + " while fetching " + what);
        };
    }

    /** "300 ms", "30 s": sub-second timeouts are legal and must not print as "0 s". */
    static String describe(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }

    private String encodedRevision() {
        return settings.revision().replace("/", "%2F");
    }

    private static Optional<String> header(HttpResponse<?> r, String name) {
        return r.headers().firstValue(name).filter(v -> !v.isBlank());
    }

    private static String unquote(String etag) {
        String e = etag.startsWith("W/") ? etag.substring(2) : etag;
        return e.replace("\"", "").trim();
    }

    private static String hex(String s, int length) {
        if (s == null || s.length() != length) return null;
        String lower = s.toLowerCase(Locale.ROOT);
        for (int i = 0; i < lower.length(); i++) {
            char c = lower.charAt(i);
            if ((c < '0' || c > '9') && (c < 'a' || c > 'f')) return null;
        }
        return lower;
    }

}
