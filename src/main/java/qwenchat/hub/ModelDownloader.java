package qwenchat.hub;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Downloads a Qwen2.5 model's files from the hub into
 * {@code {cacheDir}/{owner}--{name}/{revision}/} and returns that directory. Each file goes to a
 * {@code .part} file first, resumed with HTTP Range after a dropped connection, checked against the
 * hub's size and sha256 (or git blob id), then renamed into place; so a file under its final name
 * is always complete and verified. A {@code .complete} marker written last lets later starts skip
 * the hub entirely (offline restarts; pin a revision to avoid silently serving an old "main").
 */
public final class ModelDownloader {

    private static final Logger log = LoggerFactory.getLogger(ModelDownloader.class);

    static final String COMPLETE_MARKER = ".complete";
    static final List<String> METADATA = List.of("config.json", "generation_config.json", "tokenizer.json",
            "tokenizer_config.json");
    static final String SINGLE = "model.safetensors";
    static final String INDEX = "model.safetensors.index.json";
    private static final Pattern SAFE_NAME = Pattern.compile("[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*");

    private final HubProperties settings;
    private final HubClient client;

    public ModelDownloader(HubProperties settings) {
        if (!settings.enabled()) throw new IllegalArgumentException("qwen.hub.model (QWEN_MODEL) is not set");
        this.settings = settings;
        this.client = new HubClient(settings);
    }

    /** The directory the model lands in. */
    public Path targetDirectory() {
        return settings.cacheRoot().resolve(settings.model().replace("/", "--")).resolve(settings.revision().replace("/", "--"));
    }

    public Path fetch(DownloadProgress progress) {
        Path dir = targetDirectory();
        if (Files.isRegularFile(dir.resolve(COMPLETE_MARKER))) {
            log.info("{} revision {} is already downloaded in {}", settings.model(), settings.revision(), dir);
            return dir;
        }
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new HubException("cannot create the model cache directory " + dir + ": " + e
                    + "; set QWEN_MODEL_CACHE to a writable directory", e);
        }
        Map<String, RemoteFile> listed = new LinkedHashMap<>();
        for (RemoteFile f : client.listFiles()) listed.put(f.name(), f);

        List<String> names = new ArrayList<>(METADATA);
        for (String m : METADATA) requireListed(listed, m);
        if (listed.containsKey(SINGLE)) {
            names.add(SINGLE);
        } else if (listed.containsKey(INDEX)) {
            names.add(INDEX);
            // The index names the shards, so it comes first; it is small.
            download(List.of(describe(listed, INDEX)), dir, progress);
            names.addAll(shards(dir.resolve(INDEX), listed));
        } else {
            throw new HubException(settings.model() + " (revision " + settings.revision() + ") at " + client.listingUrl()
                    + " has neither " + SINGLE + " nor " + INDEX + "; files: " + new TreeSet<>(listed.keySet()));
        }
        List<RemoteFile> plan = new ArrayList<>();
        for (String n : names) plan.add(describe(listed, n));
        download(plan, dir, progress);
        try {
            Files.writeString(dir.resolve(COMPLETE_MARKER), settings.endpoint() + " " + settings.model() + " "
                    + settings.revision() + "\n" + String.join("\n", names) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + dir.resolve(COMPLETE_MARKER), e);
        }
        log.info("downloaded {} revision {} into {}", settings.model(), settings.revision(), dir);
        return dir;
    }

    private void requireListed(Map<String, RemoteFile> listed, String name) {
        if (!listed.containsKey(name)) {
            throw new HubException(settings.model() + " (revision " + settings.revision() + ") has no " + name
                    + " (listing " + client.listingUrl() + "); is it a Qwen2.5 model in Hugging Face format?");
        }
    }

    /** What the listing says about a file, completed by a HEAD when its size or hash is missing. */
    private RemoteFile describe(Map<String, RemoteFile> listed, String name) {
        RemoteFile f = listed.get(name);
        if (f != null && f.sizeKnown() && (f.sha256() != null || f.gitBlobSha1() != null)) return f;
        RemoteFile head = client.head(name);
        return f == null ? head : f.orElse(head);
    }

    private List<String> shards(Path index, Map<String, RemoteFile> listed) {
        JsonNode map;
        try {
            map = JsonMapper.builder().build().readTree(index.toFile()).path("weight_map");
        } catch (RuntimeException e) {
            throw new HubException(index + " from " + client.fileUrl(INDEX) + " is not valid JSON: " + e.getMessage(), e);
        }
        if (!map.isObject() || map.isEmpty()) throw new HubException(index + ": no 'weight_map' naming the shards");
        TreeSet<String> files = new TreeSet<>();
        for (JsonNode v : map) {
            String shard = v.asString("");
            if (!SAFE_NAME.matcher(shard).matches() || shard.contains("..")) {
                throw new HubException(index + ": weight_map names an unsafe shard file '" + shard + "'");
            }
            files.add(shard);
        }
        for (String shard : files) {
            if (!listed.containsKey(shard)) {
                throw new HubException(index + " names shard " + shard + ", which " + settings.model()
                        + " (revision " + settings.revision() + ") does not list");
            }
        }
        return List.copyOf(files);
    }

    private void download(List<RemoteFile> plan, Path dir, DownloadProgress progress) {
        long total = 0;
        for (RemoteFile f : plan) total += Math.max(0, f.size());
        long[] done = {0};
        for (RemoteFile f : plan) {
            Path target = dir.resolve(f.name());
            if (Files.isRegularFile(target) && (!f.sizeKnown() || size(target) == f.size())) {
                done[0] += size(target);
                progress.progress(f.name(), done[0], total);
                continue;
            }
            long t = total;
            fetchFile(f, target, n -> {
                done[0] += n;
                progress.progress(f.name(), done[0], t);
            });
        }
    }

    /** One file into {@code target}: resumed after drops, verified, renamed into place. */
    private void fetchFile(RemoteFile f, Path target, java.util.function.LongConsumer written) {
        Path part = target.resolveSibling(target.getFileName() + ".part");
        String url = client.fileUrl(f.name());
        try {
            Files.createDirectories(target.getParent());
            if (Files.exists(part)) written.accept(Files.size(part));
        } catch (IOException e) {
            throw new HubException("cannot write " + part + ": " + e, e);
        }
        for (int attempt = 0; ; attempt++) {
            try {
                if (!(f.sizeKnown() && Files.exists(part) && Files.size(part) >= f.size())) client.fetch(f.name(), part, written);
                break;
            } catch (IOException e) {
                if (attempt >= settings.retries()) {
                    throw client.unreachable(url, "file " + f.name() + " (gave up after " + (attempt + 1) + " attempts with "
                            + received(part, f) + " in " + part + ", kept for the next start to resume)", e);
                }
                log.warn("download of {} interrupted ({}); resuming (attempt {} of {})", url, e.toString(), attempt + 2,
                        settings.retries() + 1);
                pause(attempt);
            }
        }
        verify(f, part, url);
        try {
            Files.move(part, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new HubException("cannot rename " + part + " to " + target + ": " + e, e);
        }
    }

    private static String received(Path part, RemoteFile f) {
        long have;
        try {
            have = Files.exists(part) ? Files.size(part) : 0;
        } catch (IOException e) {
            return "an unreadable number of bytes";
        }
        return have + (f.sizeKnown() ? " of " + f.size() : "") + " bytes";
    }

    private static void verify(RemoteFile f, Path part, String url) {
        long actual = size(part);
        if (f.sizeKnown() && actual != f.size()) {
            deleteQuietly(part);
            throw new HubException(f.name() + " from " + url + " has " + actual + " bytes but the hub says " + f.size()
                    + "; the partial file was deleted, a restart downloads it again");
        }
        String expected = f.sha256() != null ? f.sha256() : f.gitBlobSha1();
        if (expected == null) {
            log.warn("the hub gave no checksum for {}; checked its size only", url);
            return;
        }
        String got = f.sha256() != null ? digest(part, "SHA-256", null) : digest(part, "SHA-1", ("blob " + actual + "\0").getBytes(StandardCharsets.US_ASCII));
        if (!got.equals(expected)) {
            deleteQuietly(part);
            throw new HubException("checksum mismatch for " + f.name() + " from " + url + ": expected "
                    + (f.sha256() != null ? "sha256 " : "git blob sha1 ") + expected + ", got " + got
                    + "; the file was deleted, a restart downloads it again");
        }
    }

    private static String digest(Path file, String algorithm, byte[] prefix) {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance(algorithm);
            if (prefix != null) md.update(prefix);
            byte[] buf = new byte[1 << 20];
            int n;
            while ((n = in.read(buf)) > 0) md.update(buf, 0, n);
            return HexFormat.of().formatHex(md.digest());
        } catch (IOException e) {
            throw new HubException("cannot read " + file + " to verify it: " + e, e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long size(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            throw new HubException("cannot read the size of " + p + ": " + e, e);
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            log.warn("cannot delete {}", p, e);
        }
    }

    private static void pause(int attempt) {
        try {
            Thread.sleep(Math.min(10_000L, 250L << Math.min(attempt, 6)));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HubException("the download was cancelled", e);
        }
    }
}
