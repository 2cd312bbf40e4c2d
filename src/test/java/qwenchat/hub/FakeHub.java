package qwenchat.hub;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A Hugging Face-style hub on 127.0.0.1 for the tests: the listing API, resolve URLs with HEAD
 * (LFS files answer 302 with X-Linked-Size/X-Linked-Etag, like the real hub, pointing at a "CDN"
 * path on the same server), Range requests, an optional required token, and faults on demand.
 */
final class FakeHub implements AutoCloseable {

    final String repo;
    final String revision = "main";
    private final Map<String, byte[]> files = new LinkedHashMap<>();
    private final Map<String, Boolean> lfs = new LinkedHashMap<>();
    private final Map<String, String> advertisedSha256 = new ConcurrentHashMap<>();
    /** Requests seen, as "METHOD path [Range] [Authorization]". */
    final List<String> requests = new CopyOnWriteArrayList<>();
    /** Cut the body of this file after this many bytes, once. */
    volatile String cutFile;
    volatile int cutAfter;
    private final AtomicInteger cuts = new AtomicInteger();
    volatile String requiredToken;
    /**
     * Stall the body of this file for the first {@code stallTimes} GETs: send the file's bytes up
     * to offset {@code stallAt}, then nothing more, keeping the socket open until the hub closes.
     */
    volatile String stallFile;
    volatile int stallAt;
    volatile int stallTimes;
    private final AtomicInteger stalls = new AtomicInteger();
    /** Send the listing's headers and half its JSON, then stall. */
    volatile boolean stallListing;
    /** Accept the listing request and stall before any headers. */
    volatile boolean stallListingHeaders;
    private final java.util.concurrent.CountDownLatch closing = new java.util.concurrent.CountDownLatch(1);
    private final HttpServer server;
    private final java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newCachedThreadPool();
    /** Listed, but the resolve URL answers 404 (a listing out of step with storage). */
    final java.util.Set<String> unservable = ConcurrentHashMap.newKeySet();

    FakeHub(String repo) throws IOException {
        this.repo = repo;
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.setExecutor(pool);
        server.start();
    }

    String endpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    FakeHub file(String name, byte[] content, boolean isLfs) {
        files.put(name, content);
        lfs.put(name, isLfs);
        return this;
    }

    FakeHub file(String name, String content) {
        return file(name, content.getBytes(StandardCharsets.UTF_8), false);
    }

    /** The hub advertises this sha256 for the file instead of the true one. */
    void advertiseSha256(String name, String sha256) {
        advertisedSha256.put(name, sha256);
    }

    int stallsDone() {
        return Math.min(stalls.get(), stallTimes);
    }

    /** Holds the connection open, sending nothing, until the hub closes; then drops it. */
    private void stall() {
        try {
            closing.await(30, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        throw new IllegalStateException("dropping a stalled connection (test fault)");
    }

    int cutsDone() {
        return cuts.get();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getPath();
            String range = ex.getRequestHeaders().getFirst("Range");
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            requests.add(ex.getRequestMethod() + " " + path + (range != null ? " " + range : "") + (auth != null ? " " + auth : ""));
            boolean cdn = path.startsWith("/cdn/");
            if (!cdn && requiredToken != null && !("Bearer " + requiredToken).equals(auth)) {
                send(ex, 401, "{\"error\":\"Invalid credentials\"}".getBytes(StandardCharsets.UTF_8), false);
                return;
            }
            String listing = "/api/models/" + repo + "/revision/" + revision;
            String resolve = "/" + repo + "/resolve/" + revision + "/";
            if (path.equals(listing) && stallListingHeaders) {
                stall();
            } else if (path.equals(listing) && stallListing) {
                byte[] json = listingJson().getBytes(StandardCharsets.UTF_8);
                ex.sendResponseHeaders(200, json.length);
                ex.getResponseBody().write(json, 0, json.length / 2);
                ex.getResponseBody().flush();
                stall();
            } else if (path.equals(listing)) {
                send(ex, 200, listingJson().getBytes(StandardCharsets.UTF_8), false);
            } else if (path.startsWith(resolve) && files.containsKey(path.substring(resolve.length()))
                    && !unservable.contains(path.substring(resolve.length()))) {
                String name = path.substring(resolve.length());
                if (lfs.get(name)) {
                    ex.getResponseHeaders().set("Location", "/cdn/" + name);
                    ex.getResponseHeaders().set("X-Linked-Size", String.valueOf(files.get(name).length));
                    ex.getResponseHeaders().set("X-Linked-Etag", "\"" + sha256Of(name) + "\"");
                    ex.sendResponseHeaders(302, -1);
                } else {
                    ex.getResponseHeaders().set("ETag", "\"" + gitBlobSha1(files.get(name)) + "\"");
                    serve(ex, name, range);
                }
            } else if (cdn && files.containsKey(path.substring(5))) {
                serve(ex, path.substring(5), range);
            } else {
                send(ex, 404, "{\"error\":\"Entry not found\"}".getBytes(StandardCharsets.UTF_8), false);
            }
        }
    }

    private void serve(HttpExchange ex, String name, String range) throws IOException {
        byte[] all = files.get(name);
        int from = 0;
        if (range != null && range.startsWith("bytes=") && range.endsWith("-")) {
            from = Integer.parseInt(range.substring(6, range.length() - 1));
            if (from >= all.length) {
                send(ex, 416, new byte[0], false);
                return;
            }
            ex.getResponseHeaders().set("Content-Range", "bytes " + from + "-" + (all.length - 1) + "/" + all.length);
        }
        byte[] body = java.util.Arrays.copyOfRange(all, from, all.length);
        boolean head = ex.getRequestMethod().equals("HEAD");
        if (!head && name.equals(stallFile) && stalls.getAndIncrement() < stallTimes) {
            ex.sendResponseHeaders(from > 0 ? 206 : 200, body.length);
            OutputStream out = ex.getResponseBody();
            out.write(body, 0, Math.max(0, Math.min(stallAt - from, body.length)));
            out.flush();
            stall();
        }
        if (!head && name.equals(cutFile) && cuts.get() == 0) {
            cuts.incrementAndGet();
            // Promise the whole body, send part of it, then drop the connection.
            ex.sendResponseHeaders(from > 0 ? 206 : 200, body.length);
            OutputStream out = ex.getResponseBody();
            out.write(body, 0, Math.min(cutAfter, body.length));
            out.flush();
            // A handler that throws makes the server close the connection: the client sees a short body.
            throw new IllegalStateException("cutting the connection (test fault)");
        }
        if (head) {
            ex.getResponseHeaders().set("Content-Length", String.valueOf(body.length));
            ex.sendResponseHeaders(from > 0 ? 206 : 200, -1);
            return;
        }
        send(ex, from > 0 ? 206 : 200, body, false);
    }

    private static void send(HttpExchange ex, int status, byte[] body, boolean head) throws IOException {
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        if (body.length > 0 && !head) ex.getResponseBody().write(body);
    }

    private String listingJson() {
        List<String> entries = new ArrayList<>();
        for (var e : files.entrySet()) {
            String name = e.getKey();
            if (lfs.get(name)) {
                entries.add("{\"rfilename\":\"" + name + "\",\"size\":" + e.getValue().length + ",\"lfs\":{\"sha256\":\""
                        + sha256Of(name) + "\",\"size\":" + e.getValue().length + "}}");
            } else {
                entries.add("{\"rfilename\":\"" + name + "\",\"size\":" + e.getValue().length + ",\"blobId\":\""
                        + gitBlobSha1(e.getValue()) + "\"}");
            }
        }
        return "{\"id\":\"" + repo + "\",\"sha\":\"0123456789abcdef0123456789abcdef01234567\",\"siblings\":["
                + String.join(",", entries) + "]}";
    }

    private String sha256Of(String name) {
        String advertised = advertisedSha256.get(name);
        return advertised != null ? advertised : sha256(files.get(name));
    }

    static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static String gitBlobSha1(byte[] b) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-1");
            md.update(("blob " + b.length + "\0").getBytes(StandardCharsets.US_ASCII));
            return HexFormat.of().formatHex(md.digest(b));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        closing.countDown();
        server.stop(0);
        pool.shutdownNow();
    }
}
