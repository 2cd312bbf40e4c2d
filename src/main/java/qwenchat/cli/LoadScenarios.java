package qwenchat.cli;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import qwenchat.tokenizer.ChatMessage;
import qwenchat.tokenizer.ChatTemplate;
import qwenchat.tokenizer.QwenTokenizer;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * The two latency scenarios of {@code load-test --scenario}, each a document of numbers with its
 * targets beside them (see docs/performance.md, "How the server is measured"):
 * <ul>
 * <li>{@code long-prompt}: N clients stream replies back to back; once every one of them is
 *     decoding, one more client sends a prompt of P tokens. Reported: the streams' inter-token
 *     latency while that prompt is prefilled (from its send to its first token), its time to first
 *     token, the same prompt's time to first token on an otherwise idle server (measured first), and
 *     the ratio of the two.</li>
 * <li>{@code next-turn}: a conversation whose first user turn is H tokens is answered once (a full
 *     prefill), then its next turn (history, the reply and a short new message) is sent: its time to
 *     first token and how many of its prompt tokens the server found cached.</li>
 * </ul>
 * Prompts are built with the Qwen2.5 tokenizer and chat template (the bundled ones unless
 * {@code --tokenizer} names a directory), so the rendered prompt has exactly the asked number of
 * tokens, as the server counts them; each is opened by a tag of its own so that the prefix cache
 * cannot answer one from an earlier one. Every request asks for log-probabilities, so every token
 * arrives as its own chunk (even one whose text is held back) and is timed.
 */
final class LoadScenarios {

    static final double ITL_P99_TARGET_MS = 60;
    static final double TTFT_RATIO_TARGET = 1.25;
    static final double NEXT_TURN_TTFT_TARGET_MS = 30;

    /** Common English words that Qwen2.5's tokenizer keeps whole, one token each with their leading space. */
    private static final String[] WORDS = ("the river light house keeper stone water night green small old road city "
            + "music paper window garden summer winter story north south east west bread table chair door book "
            + "friend school market ship island morning evening letter mountain forest bridge tower field cloud "
            + "rain snow wind fire train station village street lamp bird horse boat sea sky sun moon star").split(" ");

    private final HttpClient http;
    private final URI endpoint;
    private final String key;
    private final double temperature;
    private final ChatTemplate template;
    private final PrintStream out;

    LoadScenarios(HttpClient http, String url, String key, double temperature, QwenTokenizer tokenizer, PrintStream out) {
        this.http = http;
        this.endpoint = URI.create(url + "/v1/chat/completions");
        this.key = key;
        this.temperature = temperature;
        this.template = new ChatTemplate(tokenizer);
        this.out = out;
    }

    /**
     * A user message whose conversation, {@code before} it and the generation prompt after it, renders
     * to exactly {@code tokens} tokens; opened by {@code tag}.
     */
    String userText(List<ChatMessage> before, int tokens, String tag) {
        Random r = new Random(tag.hashCode());
        List<String> words = new ArrayList<>();
        String text = tag;
        for (int round = 0; round < 20; round++) {
            List<ChatMessage> messages = new ArrayList<>(before);
            messages.add(new ChatMessage("user", text));
            int have = template.render(messages, true).ids().length;
            if (have == tokens) return text;
            if (have < tokens) {
                for (int i = have; i < tokens; i++) words.add(WORDS[r.nextInt(WORDS.length)]);
            } else {
                int drop = Math.min(words.size(), have - tokens);
                if (drop == 0) break;
                words.subList(words.size() - drop, words.size()).clear();
            }
            text = tag + (words.isEmpty() ? "" : " " + String.join(" ", words));
        }
        throw new CliException("load-test: cannot build a prompt of exactly " + tokens + " tokens (the conversation "
                + "around it takes more, or the words do not tokenize one by one)");
    }

    // ---- long prompt among streams ----

    Map<String, Object> longPromptAmongStreams(int clients, int promptTokens, int maxTokens, int streamMaxTokens)
            throws Exception {
        out.printf("scenario long-prompt: %d streaming clients (max_tokens %d), then one prompt of %d tokens "
                + "(max_tokens %d)%n", clients, streamMaxTokens, promptTokens, maxTokens);
        String aloneText = userText(List.of(), promptTokens, "Long prompt alone " + System.nanoTime() + ":");
        String amongText = userText(List.of(), promptTokens, "Long prompt among streams " + System.nanoTime() + ":");
        Reply alone = chat(List.of(new ChatMessage("user", aloneText)), maxTokens, t -> { }, () -> false);
        out.printf("alone: TTFT %.1f ms (prompt %d tokens as the server counted them)%n", alone.ttftMillis(),
                alone.promptTokens());

        AtomicBoolean stop = new AtomicBoolean();
        ConcurrentLinkedQueue<long[]> gaps = new ConcurrentLinkedQueue<>(); // {end nanos, gap nanos}
        java.util.concurrent.CountDownLatch decoding = new java.util.concurrent.CountDownLatch(clients);
        Reply loaded;
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> streams = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                int client = c;
                streams.add(pool.submit(() -> {
                    boolean counted = false;
                    for (int n = 0; !stop.get(); n++) {
                        long[] last = {0};
                        boolean[] first = {counted};
                        chat(List.of(new ChatMessage("user", LoadTestCommand.prompt(40, client, n))), streamMaxTokens,
                                t -> {
                                    if (last[0] != 0) gaps.add(new long[] {t, t - last[0]});
                                    last[0] = t;
                                    if (!first[0]) {
                                        first[0] = true;
                                        decoding.countDown();
                                    }
                                }, stop::get);
                        counted = first[0];
                    }
                    return null;
                }));
            }
            if (!decoding.await(5, java.util.concurrent.TimeUnit.MINUTES)) {
                throw new CliException("load-test: the streams did not all start decoding within 5 minutes");
            }
            Thread.sleep(2000); // steady: every stream past its prefill, the batch full of decodes
            loaded = chat(List.of(new ChatMessage("user", amongText)), maxTokens, t -> { }, () -> false);
            Thread.sleep(1000);
            stop.set(true);
            for (Future<?> f : streams) f.get();
        }
        long from = loaded.sentNanos();
        long to = loaded.firstTokenNanos() > 0 ? loaded.firstTokenNanos() : loaded.endNanos();
        double[] during = gaps.stream().filter(g -> g[0] > from && g[0] <= to).mapToDouble(g -> g[1] / 1e6).toArray();
        Percentiles itl = Percentiles.of(during);
        double ratio = loaded.ttftMillis() / alone.ttftMillis();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("scenario", "long-prompt");
        m.put("clients", clients);
        m.put("promptTokens", loaded.promptTokens());
        m.put("maxTokens", maxTokens);
        m.put("streamMaxTokens", streamMaxTokens);
        m.put("ttftAloneMs", alone.ttftMillis());
        m.put("ttftAmongStreamsMs", loaded.ttftMillis());
        m.put("ttftRatio", ratio);
        m.put("itlDuringPrefillMs", LoadTestCommand.percentilesMap(itl));
        m.put("targets", Map.of("itlP99Ms", ITL_P99_TARGET_MS, "ttftRatio", TTFT_RATIO_TARGET));
        m.put("meetsItlTarget", itl.count() > 0 && itl.p99() <= ITL_P99_TARGET_MS);
        m.put("meetsTtftTarget", ratio <= TTFT_RATIO_TARGET);
        out.printf("among %d streams: TTFT %.1f ms, %.2fx alone (target <= %.2fx)%n", clients, loaded.ttftMillis(), ratio,
                TTFT_RATIO_TARGET);
        out.printf("streams' ITL while it prefilled: p50 %.1f ms, p99 %.1f ms, max %.1f ms (n=%d; target p99 <= %.0f ms)%n",
                itl.p50(), itl.p99(), itl.max(), itl.count(), ITL_P99_TARGET_MS);
        return m;
    }

    // ---- next turn of a long conversation ----

    Map<String, Object> nextTurn(int historyTokens, int maxTokens) throws Exception {
        out.printf("scenario next-turn: a first turn of %d tokens, then its next turn%n", historyTokens);
        String first = userText(List.of(), historyTokens, "Conversation " + System.nanoTime() + ":");
        List<ChatMessage> turn1 = List.of(new ChatMessage("user", first));
        Reply one = chat(turn1, maxTokens, t -> { }, () -> false);
        List<ChatMessage> turn2 = new ArrayList<>(turn1);
        turn2.add(new ChatMessage("assistant", one.text()));
        turn2.add(new ChatMessage("user", "Thank you. Now say it again in one short sentence."));
        Reply two = chat(turn2, maxTokens, t -> { }, () -> false);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("scenario", "next-turn");
        m.put("historyTokensAsked", historyTokens);
        m.put("firstTurnPromptTokens", one.promptTokens());
        m.put("firstTurnTtftMs", one.ttftMillis());
        m.put("firstTurnCachedTokens", one.cachedTokens());
        m.put("nextTurnPromptTokens", two.promptTokens());
        m.put("nextTurnTtftMs", two.ttftMillis());
        m.put("nextTurnCachedTokens", two.cachedTokens());
        m.put("targets", Map.of("nextTurnTtftMs", NEXT_TURN_TTFT_TARGET_MS));
        m.put("meetsTtftTarget", two.ttftMillis() <= NEXT_TURN_TTFT_TARGET_MS);
        out.printf("first turn: %d prompt tokens, TTFT %.1f ms%n", one.promptTokens(), one.ttftMillis());
        out.printf("next turn: %d prompt tokens, %d cached, TTFT %.1f ms (target <= %.0f ms on a GPU)%n",
                two.promptTokens(), two.cachedTokens(), two.ttftMillis(), NEXT_TURN_TTFT_TARGET_MS);
        return m;
    }

    // ---- one streamed chat ----

    /** Times in nanoTime; firstTokenNanos 0 when no token came. */
    record Reply(long sentNanos, long firstTokenNanos, long endNanos, String text, int promptTokens, int cachedTokens) {
        double ttftMillis() {
            return firstTokenNanos == 0 ? Double.NaN : (firstTokenNanos - sentNanos) / 1e6;
        }
    }

    interface TokenClock {
        void arrived(long nanos);
    }

    /**
     * One streamed chat completion with log-probabilities, so that every token is a chunk of its own;
     * {@code stop} ends it early (the server sees the client go and cancels the generation).
     */
    Reply chat(List<ChatMessage> messages, int maxTokens, TokenClock tokens, BooleanSupplier stop) throws Exception {
        ObjectNode body = StreamedChatBody.of(maxTokens, temperature);
        ArrayNode list = body.putArray("messages");
        for (ChatMessage m : messages) list.addObject().put("role", m.role()).put("content", m.content());
        HttpRequest.Builder req = HttpRequest.newBuilder(endpoint).timeout(Duration.ofMinutes(10))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(TokenizerArgs.JSON.writeValueAsString(body)));
        if (key != null) req.header("Authorization", "Bearer " + key);
        long sent = System.nanoTime();
        long first = 0;
        StringBuilder text = new StringBuilder();
        int prompt = 0;
        int cached = 0;
        HttpResponse<InputStream> r = http.send(req.build(), HttpResponse.BodyHandlers.ofInputStream());
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            if (r.statusCode() != 200) {
                throw new CliException("load-test: the server answered HTTP " + r.statusCode() + ": "
                        + in.lines().reduce("", String::concat));
            }
            String line;
            while (!stop.getAsBoolean() && (line = in.readLine()) != null) {
                if (!line.startsWith("data: ")) continue;
                String data = line.substring(6);
                if (data.equals("[DONE]")) break;
                JsonNode chunk = TokenizerArgs.JSON.readTree(data);
                if (chunk.has("error")) throw new CliException("load-test: the stream failed: " + chunk.get("error"));
                JsonNode choice = chunk.at("/choices/0");
                JsonNode lp = choice.get("logprobs");
                if (lp != null && !lp.isNull()) {
                    long now = System.nanoTime();
                    if (first == 0) first = now;
                    tokens.arrived(now);
                }
                JsonNode content = choice.at("/delta/content");
                if (content.isString()) text.append(content.stringValue());
                JsonNode usage = chunk.get("usage");
                if (usage != null && usage.isObject()) {
                    prompt = usage.path("prompt_tokens").intValue();
                    cached = usage.path("prompt_tokens_details").path("cached_tokens").intValue();
                }
            }
        }
        return new Reply(sent, first, System.nanoTime(), text.toString(), prompt, cached);
    }
}
