package qwenchat.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import qwenchat.serving.LoadWait;
import qwenchat.serving.BatchScheduler;
import qwenchat.serving.ModelRuntime;
import tools.jackson.databind.JsonNode;

/** The load-test command against the running app on the demo model (same context as the API tests). */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "qwen.demo-dir=target/qwen-chat-demo-v1", "qwen.cpu-threads=2", "qwen.kv-max-sequences=32", "qwen.queue-limit=64"})
class LoadTestCommandTest {

    @LocalServerPort
    int port;

    @Autowired
    ModelRuntime runtime;

    @Autowired
    BatchScheduler scheduler;

    @Test
    void drivesConcurrentClientsAndReportsThroughputAndPercentiles() throws Exception {
        LoadWait.settled(runtime, Duration.ofSeconds(120));
        long tokensBefore = scheduler.stats().tokensGenerated();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Cli.run(new String[] {"load-test", "--url", "http://localhost:" + port, "--clients", "4",
                "--duration", "2", "--max-tokens", "8"}, new ByteArrayInputStream(new byte[0]),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        String report = out.toString(StandardCharsets.UTF_8);
        assertThat(code).as(report + err).isZero();
        Matcher m = Pattern.compile("requests: (\\d+) ok, (\\d+) failed").matcher(report);
        assertThat(m.find()).as(report).isTrue();
        int ok = Integer.parseInt(m.group(1));
        assertThat(ok).isGreaterThanOrEqualTo(4);
        assertThat(Integer.parseInt(m.group(2))).isZero();
        // Every request asked for 8 tokens at most, and the server really generated them.
        Matcher t = Pattern.compile("throughput: [\\d.]+ req/s, ([\\d.]+) completion tok/s").matcher(report);
        assertThat(t.find()).isTrue();
        assertThat(scheduler.stats().tokensGenerated() - tokensBefore).isBetween((long) ok, 8L * ok + 8 * 4);
        assertThat(report).containsPattern("TTFT ms: p50 [\\d.]+, p90 [\\d.]+, p99 [\\d.]+, max [\\d.]+ \\(n=" + ok + "\\)");
        assertThat(report).containsPattern("latency ms: p50 [\\d.]+");
        // Inter-token latency: the gaps between a reply's streamed deltas, pooled over all replies.
        assertThat(report).containsPattern("ITL ms: p50 [\\d.]+, p90 [\\d.]+, p99 [\\d.]+, max [\\d.]+ \\(n=[1-9]\\d*\\)");
    }

    @Test
    void drivesTheChatSocketWithPromptsOfTheAskedLengthAndWritesTheNumbersAsJson(@TempDir Path dir) throws Exception {
        LoadWait.settled(runtime, Duration.ofSeconds(120));
        Path json = dir.resolve("ws.json");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Cli.run(new String[] {"load-test", "--url", "http://localhost:" + port, "--websocket", "--clients", "3",
                "--duration", "2", "--max-tokens", "6", "--prompt-tokens", "120", "--json", json.toString()},
                new ByteArrayInputStream(new byte[0]), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        String report = out.toString(StandardCharsets.UTF_8);
        assertThat(code).as(report + err).isZero();
        assertThat(report).contains("3 WebSocket clients").contains("/ws/chat");

        JsonNode doc = TokenizerArgs.JSON.readTree(Files.readString(json));
        assertThat(doc.path("mode").asString()).isEqualTo("websocket");
        int ok = doc.path("ok").intValue();
        assertThat(ok).as(report).isGreaterThanOrEqualTo(3);
        assertThat(doc.path("failed").intValue()).as(report).isZero();
        assertThat(doc.path("completionTokensPerSecond").doubleValue()).isPositive();
        // The server counted the asked length plus the chat template's system prompt and markers.
        assertThat(doc.path("promptTokensMean").doubleValue()).isBetween(120.0, 200.0);
        assertThat(doc.path("completionTokensMean").doubleValue()).isBetween(1.0, 6.0);
        assertThat(doc.path("ttftMs").path("n").intValue()).isEqualTo(ok);
        assertThat(doc.path("ttftMs").path("p50").doubleValue()).isPositive();
        assertThat(doc.path("itlMs").path("n").intValue()).isPositive();
        assertThat(doc.path("itlMs").path("p99").doubleValue())
                .isGreaterThanOrEqualTo(doc.path("itlMs").path("p50").doubleValue());
    }

    @Test
    void nextTurnScenarioSendsAHistoryOfExactlyTheAskedTokensAndFindsItCachedOnTheNextTurn(@TempDir Path dir)
            throws Exception {
        LoadWait.settled(runtime, Duration.ofSeconds(120));
        Path json = dir.resolve("next-turn.json");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Cli.run(new String[] {"load-test", "--url", "http://localhost:" + port, "--scenario", "next-turn",
                "--prompt-tokens", "300", "--max-tokens", "4", "--json", json.toString()},
                new ByteArrayInputStream(new byte[0]), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        String report = out.toString(StandardCharsets.UTF_8);
        assertThat(code).as(report + err).isZero();
        JsonNode doc = TokenizerArgs.JSON.readTree(Files.readString(json));
        assertThat(doc.path("scenario").asString()).isEqualTo("next-turn");
        // Built with the tokenizer and template the server uses: the server counts exactly what was asked.
        assertThat(doc.path("firstTurnPromptTokens").intValue()).isEqualTo(300);
        assertThat(doc.path("nextTurnPromptTokens").intValue()).isGreaterThan(300);
        // The next turn starts on the first turn's KV blocks: at least the whole blocks of its history.
        assertThat(doc.path("nextTurnCachedTokens").intValue()).isGreaterThanOrEqualTo(300 / 64 * 64)
                .isLessThan(doc.path("nextTurnPromptTokens").intValue());
        assertThat(doc.path("nextTurnTtftMs").doubleValue()).isPositive();
        assertThat(doc.path("targets").path("nextTurnTtftMs").doubleValue()).isEqualTo(30.0);
        assertThat(report).contains("next turn: ").contains(" cached, TTFT ");
    }

    @Test
    void longPromptScenarioTimesTheStreamsWhileItPrefillsAndComparesItsFirstTokenWithAnIdleServer(@TempDir Path dir)
            throws Exception {
        LoadWait.settled(runtime, Duration.ofSeconds(120));
        Path json = dir.resolve("long.json");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Cli.run(new String[] {"load-test", "--url", "http://localhost:" + port, "--scenario", "long-prompt",
                "--clients", "2", "--prompt-tokens", "600", "--max-tokens", "2", "--stream-max-tokens", "400",
                "--temperature", "0", "--json", json.toString()},
                new ByteArrayInputStream(new byte[0]), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        String report = out.toString(StandardCharsets.UTF_8);
        assertThat(code).as(report + err).isZero();
        JsonNode doc = TokenizerArgs.JSON.readTree(Files.readString(json));
        assertThat(doc.path("scenario").asString()).isEqualTo("long-prompt");
        assertThat(doc.path("promptTokens").intValue()).isEqualTo(600);
        assertThat(doc.path("ttftAloneMs").doubleValue()).isPositive();
        assertThat(doc.path("ttftAmongStreamsMs").doubleValue()).isPositive();
        assertThat(doc.path("ttftRatio").doubleValue()).isCloseTo(
                doc.path("ttftAmongStreamsMs").doubleValue() / doc.path("ttftAloneMs").doubleValue(),
                org.assertj.core.data.Offset.offset(1e-9));
        // The streams kept producing tokens while the long prompt was prefilled.
        assertThat(doc.path("itlDuringPrefillMs").path("n").intValue()).as(report).isPositive();
        assertThat(doc.path("targets").path("itlP99Ms").doubleValue()).isEqualTo(60.0);
        assertThat(report).contains("streams' ITL while it prefilled: p50 ");
    }

    @Test
    void httpClientsCutAtTheDeadlineCountTheirTokensAndReportTheSteadyDecodeRate(@TempDir Path dir) throws Exception {
        LoadWait.settled(runtime, Duration.ofSeconds(120));
        Path json = dir.resolve("cut.json");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        long tokensBefore = scheduler.stats().tokensGenerated();
        int code = Cli.run(new String[] {"load-test", "--url", "http://localhost:" + port, "--clients", "3",
                "--duration", "2", "--max-tokens", "3000", "--prompt-tokens", "50", "--cut-at-deadline",
                "--json", json.toString()}, new ByteArrayInputStream(new byte[0]),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        String report = out.toString(StandardCharsets.UTF_8);
        assertThat(code).as(report + err).isZero();
        JsonNode doc = TokenizerArgs.JSON.readTree(Files.readString(json));
        // Replies far longer than the run were hung up on, not failed, and their streamed tokens count.
        assertThat(doc.path("failed").intValue()).as(report).isZero();
        assertThat(doc.path("ok").intValue()).isGreaterThanOrEqualTo(3);
        assertThat(doc.path("completionTokensMean").doubleValue()).isPositive().isLessThan(3000.0);
        assertThat(scheduler.stats().tokensGenerated() - tokensBefore)
                .isGreaterThanOrEqualTo((long) (doc.path("completionTokensMean").doubleValue() * doc.path("ok").intValue()));
        assertThat(doc.path("steadyDecodeTokensPerSecond").doubleValue()).isPositive();
        assertThat(doc.path("steadyWindowSeconds").doubleValue()).isPositive().isLessThanOrEqualTo(2.0);
        assertThat(report).contains("steady decode: ");
    }

    @Test
    void theSteadyDecodeRateCountsTokensFromTheLastClientsFirstTokenToTheDeadline() {
        long s = 1_000_000_000L;
        // Client 0 streams from t=1 s, client 1 from t=3 s; the deadline is t=6 s.
        LoadTestCommand.Sample a = sample(1 * s, 2 * s, 3 * s, 4 * s, 5 * s, 7 * s);
        LoadTestCommand.Sample b = sample(3 * s, 4 * s, 6 * s);
        Map<String, Object> m = LoadTestCommand.steadyDecode(List.of(List.of(a), List.of(b)), 6 * s);
        // Window (3 s, 6 s]: a's tokens at 4 and 5 s, b's at 4 and 6 s.
        assertThat((Double) m.get("steadyWindowSeconds")).isEqualTo(3.0);
        assertThat((Double) m.get("steadyDecodeTokensPerSecond")).isEqualTo(4 / 3.0);
        assertThat(LoadTestCommand.steadyDecode(List.of(List.of(a), List.of()), 6 * s).get("steadyDecodeTokensPerSecond"))
                .as("a client that never streamed: no window with every client streaming").isNull();
    }

    private static LoadTestCommand.Sample sample(long... arrivals) {
        return new LoadTestCommand.Sample(null, 1, 1, 1, arrivals.length, new double[0], arrivals);
    }

    @Test
    void generatedPromptsDifferFromRequestToRequestSoThePrefixCacheCannotAnswerThem() {
        assertThat(LoadTestCommand.prompt(50, 0, 0)).isNotEqualTo(LoadTestCommand.prompt(50, 0, 1))
                .isNotEqualTo(LoadTestCommand.prompt(50, 1, 0));
        assertThat(LoadTestCommand.prompt(50, 2, 7)).startsWith("Request 2-7:").isEqualTo(LoadTestCommand.prompt(50, 2, 7));
        assertThat(LoadTestCommand.prompt(50, 0, 0).split(" ")).hasSize(50 - 6 + 2);
    }

    @Test
    void rejectsBadOptions() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Cli.run(new String[] {"load-test", "--clients", "0"}, new ByteArrayInputStream(new byte[0]),
                new PrintStream(new ByteArrayOutputStream()), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertThat(code).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("--clients must be >= 1, got 0");

        ByteArrayOutputStream both = new ByteArrayOutputStream();
        assertThat(Cli.run(new String[] {"load-test", "--prompt", "hi", "--prompt-tokens", "10"},
                new ByteArrayInputStream(new byte[0]), new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(both, true, StandardCharsets.UTF_8))).isEqualTo(2);
        assertThat(both.toString(StandardCharsets.UTF_8)).contains("--prompt and --prompt-tokens exclude each other");
    }
}
