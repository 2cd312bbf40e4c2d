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
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * {@code load-test [--url URL] [--clients N] [--duration SECONDS] [--max-tokens N] [--prompt TEXT]
 * [--temperature T] [--api-key KEY]}: N concurrent chat clients, each sending streamed chat
 * completions back to back for a bounded time against a running server; prints throughput,
 * time to first token and latency percentiles. Requests started before the deadline finish.
 */
public final class LoadTestCommand implements CliCommand {

    static final String DEFAULT_PROMPT = "Write a short story about a lighthouse keeper.";

    /** One finished request: times in milliseconds, -1 for no first token; status 0 for an I/O failure. */
    record Sample(int status, double ttftMillis, double latencyMillis, int completionTokens) {
    }

    @Override
    public int run(List<String> args, InputStream stdin, PrintStream out, PrintStream err) throws Exception {
        TokenizerArgs o = new TokenizerArgs("load-test", args, Set.of("--url", "--clients", "--duration",
                "--max-tokens", "--prompt", "--temperature", "--api-key"), Set.of());
        String url = o.has("--url") ? o.required("--url") : "http://localhost:8080";
        int clients = positive(o, "--clients", 8);
        int seconds = positive(o, "--duration", 30);
        int maxTokens = positive(o, "--max-tokens", 32);
        String prompt = o.has("--prompt") ? o.required("--prompt") : DEFAULT_PROMPT;
        double temperature = o.has("--temperature") ? number(o, "--temperature") : 0.7;
        String key = o.has("--api-key") ? o.required("--api-key") : null;
        URI endpoint = URI.create(url.replaceAll("/+$", "") + "/v1/chat/completions");

        ObjectNode body = TokenizerArgs.JSON.createObjectNode();
        body.put("model", "qwen");
        body.put("stream", true);
        body.putObject("stream_options").put("include_usage", true);
        body.put("max_tokens", maxTokens);
        body.put("temperature", temperature);
        body.putArray("messages").addObject().put("role", "user").put("content", prompt);
        String json = TokenizerArgs.JSON.writeValueAsString(body);

        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
        out.printf("load-test: %d clients for %d s against %s, max_tokens %d, temperature %s%n", clients, seconds,
                endpoint, maxTokens, temperature);
        long start = System.nanoTime();
        long deadline = start + seconds * 1_000_000_000L;
        List<Sample> samples = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<List<Sample>>> futures = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                futures.add(pool.submit(() -> {
                    List<Sample> mine = new ArrayList<>();
                    while (System.nanoTime() < deadline) mine.add(once(http, endpoint, json, key));
                    return mine;
                }));
            }
            for (Future<List<Sample>> f : futures) samples.addAll(f.get());
        }
        double wall = (System.nanoTime() - start) / 1e9;
        report(out, samples, wall);
        return samples.stream().anyMatch(s -> s.status() == 200) ? 0 : 1;
    }

    static Sample once(HttpClient http, URI endpoint, String json, String key) {
        HttpRequest.Builder req = HttpRequest.newBuilder(endpoint).timeout(Duration.ofMinutes(10))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json));
        if (key != null) req.header("Authorization", "Bearer " + key);
        long t0 = System.nanoTime();
        double ttft = -1;
        int tokens = 0;
        try {
            HttpResponse<InputStream> r = http.send(req.build(), HttpResponse.BodyHandlers.ofInputStream());
            try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                if (r.statusCode() != 200) {
                    in.transferTo(java.io.Writer.nullWriter());
                    return new Sample(r.statusCode(), -1, (System.nanoTime() - t0) / 1e6, 0);
                }
                String line;
                while ((line = in.readLine()) != null) {
                    if (!line.startsWith("data: ")) continue;
                    String data = line.substring(6);
                    if (data.equals("[DONE]")) break;
                    JsonNode chunk = TokenizerArgs.JSON.readTree(data);
                    if (chunk.has("error")) return new Sample(500, ttft, (System.nanoTime() - t0) / 1e6, tokens);
                    JsonNode content = chunk.at("/choices/0/delta/content");
                    if (ttft < 0 && content.isString() && !content.stringValue().isEmpty()) {
                        ttft = (System.nanoTime() - t0) / 1e6;
                    }
                    JsonNode usage = chunk.get("usage");
                    if (usage != null && usage.isObject()) tokens = usage.get("completion_tokens").intValue();
                }
            }
            return new Sample(200, ttft, (System.nanoTime() - t0) / 1e6, tokens);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Sample(0, -1, (System.nanoTime() - t0) / 1e6, 0);
        } catch (Exception e) {
            return new Sample(0, -1, (System.nanoTime() - t0) / 1e6, 0);
        }
    }

    static void report(PrintStream out, List<Sample> samples, double wallSeconds) {
        List<Sample> ok = samples.stream().filter(s -> s.status() == 200).toList();
        Map<Integer, Integer> failures = new TreeMap<>();
        for (Sample s : samples) if (s.status() != 200) failures.merge(s.status(), 1, Integer::sum);
        long tokens = ok.stream().mapToLong(Sample::completionTokens).sum();
        out.printf("requests: %d ok, %d failed %s in %.1f s%n", ok.size(), samples.size() - ok.size(),
                failures.isEmpty() ? "" : failures.toString().replace("0=", "io="), wallSeconds);
        out.printf("throughput: %.2f req/s, %.1f completion tok/s%n", ok.size() / wallSeconds, tokens / wallSeconds);
        print(out, "TTFT ms", Percentiles.of(ok.stream().filter(s -> s.ttftMillis() >= 0)
                .mapToDouble(Sample::ttftMillis).toArray()));
        print(out, "latency ms", Percentiles.of(ok.stream().mapToDouble(Sample::latencyMillis).toArray()));
        // Time per output token after the first, per request: what a streaming reader sees.
        print(out, "TPOT ms", Percentiles.of(ok.stream().filter(s -> s.completionTokens() > 1 && s.ttftMillis() >= 0)
                .mapToDouble(s -> (s.latencyMillis() - s.ttftMillis()) / (s.completionTokens() - 1)).toArray()));
    }

    private static void print(PrintStream out, String name, Percentiles p) {
        out.printf("%s: p50 %.1f, p90 %.1f, p99 %.1f, max %.1f (n=%d)%n", name, p.p50(), p.p90(), p.p99(), p.max(),
                p.count());
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
