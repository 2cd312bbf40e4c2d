package qwenchat.cli;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * {@code load-test [--url URL] [--clients N] [--duration SECONDS] [--max-tokens N] [--prompt TEXT | --prompt-tokens N]
 * [--temperature T] [--api-key KEY] [--websocket] [--cut-at-deadline] [--json FILE]}: N concurrent chat clients, each
 * sending streamed chat completions back to back for a bounded time against a running server; prints throughput
 * (overall, and the steady decode rate while every client streams), time to first token, inter-token latency and
 * latency percentiles, and with {@code --json} writes the same numbers to FILE. Requests started before the deadline
 * finish, unless {@code --cut-at-deadline} makes the HTTP clients hang up then (their tokens so far count).
 * HTTP clients ask for log-probabilities so that every token arrives as a chunk of its own and is timed.
 *
 * <p>{@code --scenario long-prompt | next-turn [--tokenizer DIR] [--stream-max-tokens N]} runs one of the latency
 * scenarios of {@link LoadScenarios} instead.
 *
 * <p>{@code --websocket} drives {@code /ws/chat} (docs/protocol.md) instead of {@code /v1/chat/completions}: one
 * socket per client, one chat at a time on it, as the chat page does. {@code --prompt-tokens N} sends a user turn of
 * about N tokens, different for every request so that the prefix cache cannot answer one from another; the report
 * gives the prompt length the server counted (chat template included).
 */
public final class LoadTestCommand implements CliCommand {

    static final String DEFAULT_PROMPT = "Write a short story about a lighthouse keeper.";

    /**
     * Common English words that Qwen2.5's tokenizer keeps whole (one token each, with their leading space), so
     * {@code --prompt-tokens N} can build a prompt of about N tokens without a tokenizer on the client.
     */
    private static final String[] WORDS = ("the river light house keeper stone water night green small old road city "
            + "music paper window garden summer winter story north south east west bread table chair door book "
            + "friend school market ship island morning evening letter mountain forest bridge tower field cloud "
            + "rain snow wind fire train station village street lamp bird horse boat sea sky sun moon star").split(" ");

    /**
     * One finished request: times in milliseconds, ttft -1 for no first token; {@code failure} null for success,
     * else the HTTP status, {@code io} or the WebSocket error code. {@code gapsMillis}: the time between consecutive
     * streamed deltas (inter-token latency as a streaming reader sees it).
     */
    record Sample(String failure, double ttftMillis, double latencyMillis, int promptTokens, int completionTokens,
            double[] gapsMillis, long[] arrivalNanos) {

        Sample(String failure, double ttftMillis, double latencyMillis, int promptTokens, int completionTokens,
                double[] gapsMillis) {
            this(failure, ttftMillis, latencyMillis, promptTokens, completionTokens, gapsMillis, new long[0]);
        }

        static Sample failed(String failure, long t0) {
            return new Sample(failure, -1, (System.nanoTime() - t0) / 1e6, 0, 0, new double[0]);
        }

        boolean ok() {
            return failure == null;
        }
    }

    /** One virtual user: sends one chat after another on its own connection. */
    private interface Client extends AutoCloseable {
        Sample once(String prompt);

        @Override
        default void close() {
        }
    }

    @Override
    public int run(List<String> args, InputStream stdin, PrintStream out, PrintStream err) throws Exception {
        TokenizerArgs o = new TokenizerArgs("load-test", args, Set.of("--url", "--clients", "--duration",
                "--max-tokens", "--prompt", "--prompt-tokens", "--temperature", "--api-key", "--json", "--scenario",
                "--stream-max-tokens", "--tokenizer"), Set.of("--websocket", "--cut-at-deadline"));
        String url = (o.has("--url") ? o.required("--url") : "http://localhost:8080").replaceAll("/+$", "");
        if (o.has("--scenario")) return scenario(o, url, out);
        int clients = positive(o, "--clients", 8);
        int seconds = positive(o, "--duration", 30);
        int maxTokens = positive(o, "--max-tokens", 32);
        if (o.has("--prompt") && o.has("--prompt-tokens")) {
            throw new CliException("load-test: --prompt and --prompt-tokens exclude each other");
        }
        int promptTokens = o.has("--prompt-tokens") ? positive(o, "--prompt-tokens", 0) : 0;
        String prompt = o.has("--prompt") ? o.required("--prompt") : DEFAULT_PROMPT;
        double temperature = o.has("--temperature") ? number(o, "--temperature") : 0.7;
        String key = o.has("--api-key") ? o.required("--api-key") : null;
        boolean websocket = o.has("--websocket");
        boolean cut = o.has("--cut-at-deadline");
        if (cut && websocket) throw new CliException("load-test: --cut-at-deadline is for HTTP clients");
        Path json = o.has("--json") ? Path.of(o.required("--json")) : null;

        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
        String target = websocket ? url.replaceFirst("^http", "ws") + "/ws/chat" : url + "/v1/chat/completions";
        out.printf("load-test: %d %s clients for %d s against %s, max_tokens %d, temperature %s, prompt %s%n", clients,
                websocket ? "WebSocket" : "HTTP", seconds, target, maxTokens, temperature,
                promptTokens > 0 ? "of about " + promptTokens + " tokens" : "'" + prompt + "'");
        long start = System.nanoTime();
        long deadline = start + seconds * 1_000_000_000L;
        long cutAt = cut ? deadline : Long.MAX_VALUE;
        Function<Integer, Client> connect = websocket
                ? c -> new SocketClient(http, url, key, maxTokens, temperature)
                : c -> new HttpChatClient(http, URI.create(target), key, maxTokens, temperature, cutAt);
        List<Sample> samples = new ArrayList<>();
        List<List<Sample>> byClient = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<List<Sample>>> futures = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                int client = c;
                futures.add(pool.submit(() -> {
                    List<Sample> mine = new ArrayList<>();
                    try (Client conn = connect.apply(client)) {
                        for (int n = 0; System.nanoTime() < deadline; n++) {
                            mine.add(conn.once(promptTokens > 0 ? prompt(promptTokens, client, n) : prompt));
                        }
                    }
                    return mine;
                }));
            }
            for (Future<List<Sample>> f : futures) {
                byClient.add(f.get());
                samples.addAll(byClient.getLast());
            }
        }
        double wall = (System.nanoTime() - start) / 1e9;
        Map<String, Object> summary = summarize(samples, wall);
        summary.putAll(steadyDecode(byClient, deadline));
        report(out, summary);
        if (json != null) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("mode", websocket ? "websocket" : "http");
            doc.put("url", target);
            doc.put("clients", clients);
            doc.put("durationSeconds", seconds);
            doc.put("maxTokens", maxTokens);
            doc.put("promptTokensAsked", promptTokens > 0 ? promptTokens : null);
            doc.put("temperature", temperature);
            doc.putAll(summary);
            if (json.getParent() != null) Files.createDirectories(json.getParent());
            Files.writeString(json, TokenizerArgs.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(doc));
        }
        return samples.stream().anyMatch(Sample::ok) ? 0 : 1;
    }

    /** {@code --scenario long-prompt | next-turn}: see {@link LoadScenarios}. */
    private static int scenario(TokenizerArgs o, String url, PrintStream out) throws Exception {
        String name = o.required("--scenario");
        if (o.has("--websocket") || o.has("--prompt") || o.has("--duration")) {
            throw new CliException("load-test: --scenario runs its own HTTP clients; drop --websocket, --prompt and --duration");
        }
        double temperature = o.has("--temperature") ? number(o, "--temperature") : 0.7;
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
        LoadScenarios s = new LoadScenarios(http, url, o.has("--api-key") ? o.required("--api-key") : null, temperature,
                o.tokenizer(), out);
        Map<String, Object> doc = switch (name) {
            case "long-prompt" -> s.longPromptAmongStreams(positive(o, "--clients", 16), positive(o, "--prompt-tokens", 32000),
                    positive(o, "--max-tokens", 8), positive(o, "--stream-max-tokens", 1024));
            case "next-turn" -> s.nextTurn(positive(o, "--prompt-tokens", 8000), positive(o, "--max-tokens", 32));
            default -> throw new CliException("load-test: --scenario must be long-prompt or next-turn, got '" + name + "'");
        };
        Map<String, Object> full = new LinkedHashMap<>();
        full.put("url", url);
        full.put("temperature", temperature);
        full.putAll(doc);
        if (o.has("--json")) {
            Path json = Path.of(o.required("--json"));
            if (json.getParent() != null) Files.createDirectories(json.getParent());
            Files.writeString(json, TokenizerArgs.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(full));
        }
        return 0;
    }

    /**
     * About {@code tokens} tokens of words, opened by a tag unique to this client and request so that no two
     * prompts share more than the chat template's system prompt (the prefix cache would otherwise skip the prefill
     * this option is meant to measure).
     */
    static String prompt(int tokens, int client, int request) {
        Random r = new Random(client * 1_000_003L + request);
        StringBuilder b = new StringBuilder("Request " + client + "-" + request + ":");
        for (int i = 0; i < tokens - 6; i++) b.append(' ').append(WORDS[r.nextInt(WORDS.length)]);
        return b.toString();
    }

    /** {@code /v1/chat/completions}, streamed with usage; one HTTP exchange per chat. */
    private record HttpChatClient(HttpClient http, URI endpoint, String key, int maxTokens, double temperature,
            long cutAtNanos) implements Client {

        @Override
        public Sample once(String prompt) {
            ObjectNode body = StreamedChatBody.of(maxTokens, temperature);
            body.putArray("messages").addObject().put("role", "user").put("content", prompt);
            HttpRequest.Builder req = HttpRequest.newBuilder(endpoint).timeout(Duration.ofMinutes(10))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(TokenizerArgs.JSON.writeValueAsString(body)));
            if (key != null) req.header("Authorization", "Bearer " + key);
            long t0 = System.nanoTime();
            Deltas deltas = new Deltas(t0);
            int promptTokens = 0;
            int tokens = 0;
            // --cut-at-deadline: a watcher hangs up at the deadline (the server cancels), even while the
            // reply waits in the queue or for its first token; the tokens so far count.
            java.util.concurrent.atomic.AtomicBoolean cut = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.concurrent.atomic.AtomicReference<InputStream> stream = new java.util.concurrent.atomic.AtomicReference<>();
            java.util.concurrent.CompletableFuture<HttpResponse<InputStream>> sent =
                    http.sendAsync(req.build(), HttpResponse.BodyHandlers.ofInputStream());
            Thread watcher = cutAtNanos == Long.MAX_VALUE ? null : Thread.ofVirtual().start(() -> {
                try {
                    long wait = cutAtNanos - System.nanoTime();
                    if (wait > 0) Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                } catch (InterruptedException e) {
                    return; // the reply ended first
                }
                cut.set(true);
                sent.cancel(true);
                InputStream in = stream.get();
                if (in != null) {
                    try {
                        in.close();
                    } catch (java.io.IOException ignored) {
                        // closed already
                    }
                }
            });
            try {
                HttpResponse<InputStream> r = sent.get();
                stream.set(r.body());
                if (cut.get()) r.body().close();
                try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                    if (r.statusCode() != 200) {
                        in.transferTo(java.io.Writer.nullWriter());
                        return Sample.failed(String.valueOf(r.statusCode()), t0);
                    }
                    String line;
                    while ((line = in.readLine()) != null) {
                        if (!line.startsWith("data: ")) continue;
                        String data = line.substring(6);
                        if (data.equals("[DONE]")) break;
                        JsonNode chunk = TokenizerArgs.JSON.readTree(data);
                        if (chunk.has("error")) return Sample.failed("500", t0);
                        JsonNode logprobs = chunk.at("/choices/0/logprobs");
                        if (!logprobs.isMissingNode() && !logprobs.isNull()) deltas.arrived(System.nanoTime());
                        JsonNode usage = chunk.get("usage");
                        if (usage != null && usage.isObject()) {
                            promptTokens = usage.path("prompt_tokens").intValue();
                            tokens = usage.path("completion_tokens").intValue();
                        }
                    }
                }
                return cut.get() ? deltas.sample(promptTokens, deltas.count()) : deltas.sample(promptTokens, tokens);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return Sample.failed("io", t0);
            } catch (Exception e) {
                return cut.get() ? deltas.sample(promptTokens, deltas.count()) : Sample.failed("io", t0);
            } finally {
                if (watcher != null) watcher.interrupt();
            }
        }
    }

    /** Arrival times of one reply's deltas, from the moment the request was sent. */
    private static final class Deltas {
        private final long t0;
        private final List<Long> at = new ArrayList<>();

        Deltas(long t0) {
            this.t0 = t0;
        }

        void arrived(long nanos) {
            at.add(nanos);
        }

        int count() {
            return at.size();
        }

        Sample sample(int promptTokens, int completionTokens) {
            double ttft = at.isEmpty() ? -1 : (at.getFirst() - t0) / 1e6;
            double[] gaps = new double[Math.max(0, at.size() - 1)];
            for (int i = 0; i < gaps.length; i++) gaps[i] = (at.get(i + 1) - at.get(i)) / 1e6;
            long[] arrivals = at.stream().mapToLong(Long::longValue).toArray();
            return new Sample(null, ttft, (System.nanoTime() - t0) / 1e6, promptTokens, completionTokens, gaps, arrivals);
        }
    }

    /**
     * {@code /ws/chat}: one socket, one chat at a time, as the chat page uses it. Frames are stamped when they
     * arrive (on the socket's listener), not when this client's thread gets to them, so queueing here does not
     * count as server latency.
     */
    private static final class SocketClient implements Client, WebSocket.Listener {
        private record Frame(JsonNode json, long nanos) {
        }

        private static final Frame CLOSED = new Frame(null, 0);

        private final HttpClient http;
        private final String url;
        private final String key;
        private final int maxTokens;
        private final double temperature;
        private final BlockingQueue<Frame> frames = new LinkedBlockingQueue<>();
        private final StringBuilder partial = new StringBuilder();
        private WebSocket socket;
        private int sent;

        SocketClient(HttpClient http, String url, String key, int maxTokens, double temperature) {
            this.http = http;
            this.url = url;
            this.key = key;
            this.maxTokens = maxTokens;
            this.temperature = temperature;
        }

        @Override
        public Sample once(String prompt) {
            long t0 = System.nanoTime();
            try {
                if (socket == null) socket = open();
                String id = "load-" + sent++;
                ObjectNode chat = TokenizerArgs.JSON.createObjectNode();
                chat.put("type", "chat");
                chat.put("id", id);
                chat.putArray("messages").addObject().put("role", "user").put("content", prompt);
                chat.putObject("params").put("maxTokens", maxTokens).put("temperature", temperature);
                t0 = System.nanoTime();
                socket.sendText(TokenizerArgs.JSON.writeValueAsString(chat), true).get(30, TimeUnit.SECONDS);
                Deltas deltas = new Deltas(t0);
                while (true) {
                    Frame f = frames.poll(10, TimeUnit.MINUTES);
                    if (f == null || f == CLOSED) {
                        socket = null;
                        return Sample.failed("closed", t0);
                    }
                    if (!id.equals(f.json().path("id").asString(""))) continue; // status frames, an old reply's end
                    switch (f.json().path("type").asString("")) {
                        case "delta" -> deltas.arrived(f.nanos());
                        case "error" -> {
                            return Sample.failed(f.json().path("code").asString("error"), t0);
                        }
                        case "done" -> {
                            String reason = f.json().path("finishReason").asString("");
                            if (!reason.equals("stop") && !reason.equals("length")) return Sample.failed(reason, t0);
                            JsonNode usage = f.json().path("usage");
                            return deltas.sample(usage.path("promptTokens").intValue(),
                                    usage.path("completionTokens").intValue());
                        }
                        default -> {
                        }
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return Sample.failed("io", t0);
            } catch (Exception e) {
                socket = null;
                return Sample.failed("io", t0);
            }
        }

        private WebSocket open() throws Exception {
            frames.clear();
            String query = "";
            if (key != null) { // protected chat: a one-time ticket bought with the API key opens the socket
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url + "/api/chat/ticket"))
                        .header("Authorization", "Bearer " + key).POST(HttpRequest.BodyPublishers.noBody()).build(),
                        HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() != 200) throw new IllegalStateException("ticket: HTTP " + r.statusCode());
                query = "?ticket=" + TokenizerArgs.JSON.readTree(r.body()).path("ticket").asString();
            }
            return http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(10))
                    .buildAsync(URI.create(url.replaceFirst("^http", "ws") + "/ws/chat" + query), this)
                    .get(30, TimeUnit.SECONDS);
        }

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            long now = System.nanoTime();
            partial.append(data);
            if (last) {
                frames.add(new Frame(TokenizerArgs.JSON.readTree(partial.toString()), now));
                partial.setLength(0);
            }
            ws.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
            frames.add(CLOSED);
            return null;
        }

        @Override
        public void onError(WebSocket ws, Throwable error) {
            frames.add(CLOSED);
        }

        @Override
        public void close() {
            WebSocket s = socket;
            if (s != null) s.sendClose(WebSocket.NORMAL_CLOSURE, "done").orTimeout(5, TimeUnit.SECONDS).exceptionally(e -> null).join();
        }
    }

    /** The numbers of a run, in the order the report prints them; also the {@code --json} document's body. */
    static Map<String, Object> summarize(List<Sample> samples, double wallSeconds) {
        List<Sample> ok = samples.stream().filter(Sample::ok).toList();
        Map<String, Integer> failures = new TreeMap<>();
        for (Sample s : samples) if (!s.ok()) failures.merge(s.failure(), 1, Integer::sum);
        long tokens = ok.stream().mapToLong(Sample::completionTokens).sum();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("wallSeconds", wallSeconds);
        m.put("ok", ok.size());
        m.put("failed", samples.size() - ok.size());
        m.put("failures", failures);
        m.put("requestsPerSecond", ok.size() / wallSeconds);
        m.put("completionTokensPerSecond", tokens / wallSeconds);
        // A reply cut at the deadline never got its usage: it counts tokens, not the prompt.
        m.put("promptTokensMean", finite(ok.stream().filter(s -> s.promptTokens() > 0).mapToInt(Sample::promptTokens)
                .average().orElse(Double.NaN)));
        m.put("completionTokensMean", finite(ok.stream().mapToInt(Sample::completionTokens).average().orElse(Double.NaN)));
        m.put("ttftMs", percentiles(ok.stream().filter(s -> s.ttftMillis() >= 0).mapToDouble(Sample::ttftMillis).toArray()));
        // Every gap between two streamed deltas of any reply: what a reader sees between words.
        m.put("itlMs", percentiles(ok.stream().flatMapToDouble(s -> java.util.Arrays.stream(s.gapsMillis())).toArray()));
        m.put("latencyMs", percentiles(ok.stream().mapToDouble(Sample::latencyMillis).toArray()));
        // Time per output token after the first, per request: a reply's average pace.
        m.put("tpotMs", percentiles(ok.stream().filter(s -> s.completionTokens() > 1 && s.ttftMillis() >= 0)
                .mapToDouble(s -> (s.latencyMillis() - s.ttftMillis()) / (s.completionTokens() - 1)).toArray()));
        return m;
    }

    private static Map<String, Object> percentiles(double[] values) {
        return percentilesMap(Percentiles.of(values));
    }

    static Map<String, Object> percentilesMap(Percentiles p) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("p50", finite(p.p50()));
        m.put("p90", finite(p.p90()));
        m.put("p99", finite(p.p99()));
        m.put("max", finite(p.max()));
        m.put("n", p.count());
        return m;
    }

    /**
     * The decode rate while every client had a stream going: tokens that arrived between the moment
     * the last client got its first token and the deadline (or the first client's last token, if
     * earlier), per second. With clients that re-request at once and replies long enough, the decode
     * batch is full throughout that window, so this is the number to hold against an engine
     * benchmark at a batch of as many sequences; the overall rate also counts the ramp-up, every
     * prefill and the tail after the deadline.
     */
    static Map<String, Object> steadyDecode(List<List<Sample>> byClient, long deadlineNanos) {
        long from = Long.MIN_VALUE;
        long to = deadlineNanos;
        for (List<Sample> client : byClient) {
            long first = Long.MAX_VALUE;
            long last = Long.MIN_VALUE;
            for (Sample s : client) {
                if (!s.ok() || s.arrivalNanos().length == 0) continue;
                first = Math.min(first, s.arrivalNanos()[0]);
                last = Math.max(last, s.arrivalNanos()[s.arrivalNanos().length - 1]);
            }
            from = Math.max(from, first);
            to = Math.min(to, last);
        }
        Map<String, Object> m = new LinkedHashMap<>();
        if (byClient.isEmpty() || from == Long.MAX_VALUE || to <= from) {
            m.put("steadyWindowSeconds", null);
            m.put("steadyDecodeTokensPerSecond", null);
            return m;
        }
        long tokens = 0;
        for (List<Sample> client : byClient) {
            for (Sample s : client) {
                if (!s.ok()) continue;
                for (long t : s.arrivalNanos()) if (t > from && t <= to) tokens++;
            }
        }
        double seconds = (to - from) / 1e9;
        m.put("steadyWindowSeconds", seconds);
        m.put("steadyDecodeTokensPerSecond", tokens / seconds);
        return m;
    }

    /** JSON has no NaN: an empty measurement is null. */
    private static Double finite(double v) {
        return Double.isFinite(v) ? v : null;
    }

    static void report(PrintStream out, Map<String, Object> s) {
        double wall = (double) s.get("wallSeconds");
        out.printf("requests: %d ok, %d failed %s in %.1f s%n", s.get("ok"), s.get("failed"),
                ((Map<?, ?>) s.get("failures")).isEmpty() ? "" : s.get("failures"), wall);
        out.printf("throughput: %.2f req/s, %.1f completion tok/s%n", s.get("requestsPerSecond"),
                s.get("completionTokensPerSecond"));
        if (s.get("steadyDecodeTokensPerSecond") instanceof Double steady) {
            out.printf("steady decode: %.1f tok/s over %.1f s with every client streaming%n", steady,
                    (Double) s.get("steadyWindowSeconds"));
        }
        out.printf("tokens per request: prompt %s, completion %s (means)%n", mean(s.get("promptTokensMean")),
                mean(s.get("completionTokensMean")));
        print(out, "TTFT ms", s.get("ttftMs"));
        print(out, "ITL ms", s.get("itlMs"));
        print(out, "latency ms", s.get("latencyMs"));
        print(out, "TPOT ms", s.get("tpotMs"));
    }

    private static String mean(Object v) {
        return v == null ? "-" : String.format("%.1f", (Double) v);
    }

    private static void print(PrintStream out, String name, Object percentiles) {
        Map<?, ?> p = (Map<?, ?>) percentiles;
        out.printf("%s: p50 %s, p90 %s, p99 %s, max %s (n=%d)%n", name, ms(p.get("p50")), ms(p.get("p90")),
                ms(p.get("p99")), ms(p.get("max")), p.get("n"));
    }

    private static String ms(Object v) {
        return v == null ? "NaN" : String.format("%.1f", (Double) v);
    }

    private static int positive(TokenizerArgs o, String option, int fallback) {
        if (!o.has(option)) return fallback;
        try {
            int v = Integer.parseInt(o.required(option));
            if (v < 1) throw new CliException("load-test: " + option + " must be >= 1, got " + v);
            return v;
        } catch (NumberFormatException e) {
            throw new CliException("load-test: " + option + " needs an integer, got '" + o.required(option) + "'");
        }
    }

    private static double number(TokenizerArgs o, String option) {
        try {
            return Double.parseDouble(o.required(option));
        } catch (NumberFormatException e) {
            throw new CliException("load-test: " + option + " needs a number, got '" + o.required(option) + "'");
        }
    }
}
