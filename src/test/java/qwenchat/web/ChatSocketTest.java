package qwenchat.web;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.serving.GenerationException;
import qwenchat.tokenizer.ChatMessage;
import tools.jackson.databind.JsonNode;

@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"qwen.web.allowed-origins=http://allowed.example", FakeServing.NO_REAL_MODEL})
@Import(FakeServing.class)
class ChatSocketTest {

    @DynamicPropertySource
    static void dataDir(DynamicPropertyRegistry r) throws Exception {
        Path dir = Files.createTempDirectory("qwen-webchat-test");
        r.add("qwen.data-dir", dir::toString);
    }

    @LocalServerPort
    int port;
    @Autowired
    FakeModelRuntime runtime;
    @Autowired
    FakeGenerationService generation;
    @Autowired
    ChatSocketHandler handler;

    @BeforeEach
    void readyModel() throws InterruptedException {
        // A socket closed at the end of the previous test may still be unsubscribing; counts start from none.
        long deadline = System.currentTimeMillis() + 5000;
        while (handler.openSessions() > 0 && System.currentTimeMillis() < deadline) Thread.sleep(10);
        generation.reset();
        runtime.ready(FakeServing.model());
    }

    @AfterEach
    void stopAll() {
        generation.handles().forEach(FakeGenerationService.Handle::cancel);
    }

    private static Map<String, Object> chat(String id, String preset, List<ChatMessage> messages, Map<String, Object> params) {
        return Map.of("type", "chat", "id", id, "presetId", preset, "messages", messages, "params", params);
    }

    /** The message of the next error frame, after checking it names no Java class and no stack frame. */
    private static String nextErrorMessage(TestSocket s) throws InterruptedException {
        JsonNode e = s.next("error");
        assertThat(e.path("code").asString()).isEqualTo("invalid_request");
        String message = e.path("message").asString();
        assertThat(message).doesNotContain("qwenchat.").doesNotContain("java.").doesNotContain("tools.jackson")
                .doesNotContain("ClientFrame").doesNotContain("ChatMessage").doesNotContain("ChatParams");
        return message;
    }

    private static Map<String, Object> chat(String id, String userText) {
        return chat(id, "general", List.of(new ChatMessage("user", userText)), Map.of());
    }

    private static int[] renderedIds(ChatMessage... messages) {
        return FakeServing.model().chatTemplate().render(List.of(messages), true).ids();
    }

    @Test
    void pushesStatusOnConnectAndOnEveryLoadChange() throws Exception {
        runtime.loading(10);
        try (TestSocket s = TestSocket.open(port)) {
            JsonNode first = s.next("status");
            assertThat(first.path("state").asString()).isEqualTo("LOADING");
            assertThat(first.path("percent").asDouble()).isEqualTo(10.0);
            assertThat(first.path("stage").asString()).isEqualTo("LOAD_WEIGHTS");
            assertThat(first.path("stages")).hasSize(2);
            assertThat(first.path("model").isNull()).isTrue();

            runtime.loading(62);
            assertThat(s.next("status").path("percent").asDouble()).isEqualTo(62.0);

            runtime.ready(FakeServing.model());
            JsonNode ready = s.next("status");
            assertThat(ready.path("state").asString()).isEqualTo("READY");
            assertThat(ready.path("demo").asBoolean()).isTrue();
            JsonNode model = ready.path("model");
            assertThat(model.path("name").asString()).isEqualTo("demo weights (random)");
            assertThat(model.path("contextLength").asInt()).isEqualTo(FakeServing.CONTEXT);
            // Qwen2.5-Instruct's generation_config.json: 0.7 / 0.8 / 20 / 1.05.
            JsonNode d = model.path("defaults");
            assertThat(d.path("temperature").asDouble()).isEqualTo(0.7);
            assertThat(d.path("topP").asDouble()).isEqualTo(0.8);
            assertThat(d.path("topK").asInt()).isEqualTo(20);
            assertThat(d.path("repetitionPenalty").asDouble()).isEqualTo(1.05);
        }
    }

    @Test
    void chatBeforeReadinessGetsALoadingErrorNotAHang() throws Exception {
        runtime.loading(62);
        try (TestSocket s = TestSocket.open(port)) {
            s.send(chat("c1", "hi"));
            JsonNode e = s.next("error");
            assertThat(e.path("id").asString()).isEqualTo("c1");
            assertThat(e.path("code").asString()).isEqualTo("model_not_ready");
            assertThat(e.path("message").asString()).isEqualTo("model is loading (62%)");
            runtime.fail("config.json: hidden_size is missing");
            s.next("status");
            s.send(chat("c2", "hi"));
            assertThat(s.next("error").path("message").asString())
                    .isEqualTo("the model failed to load: config.json: hidden_size is missing");
        }
        assertThat(generation.handles()).isEmpty();
    }

    @Test
    void streamsStartThenDeltasThenDoneInOrder() throws Exception {
        generation.script(FakeGenerationService.Script.reply("!", "Hel", "lo", "", " world"));
        try (TestSocket s = TestSocket.open(port)) {
            s.next("status");
            s.clear();
            s.send(chat("c1", "hi"));
            JsonNode done = s.next("done");
            assertThat(s.types()).containsExactly("start", "delta", "delta", "delta", "delta", "done");
            int[] expectedIds = renderedIds(new ChatMessage("system", "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."),
                    new ChatMessage("user", "hi"));
            JsonNode start = s.seen("start").get(0);
            assertThat(start.path("id").asString()).isEqualTo("c1");
            assertThat(start.path("promptTokens").asInt()).isEqualTo(expectedIds.length);
            assertThat(start.path("contextLength").asInt()).isEqualTo(FakeServing.CONTEXT);
            assertThat(start.path("presetId").asString()).isEqualTo("general");
            assertThat(s.seen("delta")).extracting(f -> f.path("text").asString())
                    .containsExactly("Hel", "lo", " world", "!");
            assertThat(done.path("finishReason").asString()).isEqualTo("stop");
            assertThat(done.path("usage").path("promptTokens").asInt()).isEqualTo(expectedIds.length);
            assertThat(done.path("usage").path("completionTokens").asInt()).isEqualTo(4);
            assertThat(done.path("usage").path("totalTokens").asInt()).isEqualTo(expectedIds.length + 4);
            assertThat(done.path("ttftMillis").asLong()).isEqualTo(3);
            assertThat(done.has("tokensPerSecond")).isTrue();
            assertThat(generation.last().request().promptIds()).isEqualTo(expectedIds);
        }
    }

    @Test
    void appliesThePresetsSystemPromptAndSamplingUnderTheUsersExplicitParams() throws Exception {
        try (TestSocket s = TestSocket.open(port)) {
            s.send(chat("c1", "roleplay-detective", List.of(new ChatMessage("user", "I saw nothing.")),
                    Map.of("temperature", 0.1, "seed", 42, "maxTokens", 7)));
            s.next("done");
            var request = generation.last().request();
            String detective = handlerPreset("roleplay-detective");
            assertThat(request.promptIds()).isEqualTo(renderedIds(new ChatMessage("system", detective),
                    new ChatMessage("user", "I saw nothing.")));
            SamplingParams p = request.sampling();
            assertThat(p.temperature()).isEqualTo(0.1);          // user
            assertThat(p.topK()).isEqualTo(40);                   // preset
            assertThat(p.topP()).isEqualTo(0.9);                  // preset
            assertThat(p.repetitionPenalty()).isEqualTo(1.05);    // model's generation_config
            assertThat(p.seed()).isEqualTo(42);
            assertThat(request.maxNewTokens()).isEqualTo(7);

            // The conversation's own system message wins over the preset's.
            s.send(chat("c2", "roleplay-detective", List.of(new ChatMessage("system", "Be brief."),
                    new ChatMessage("user", "x")), Map.of()));
            s.next("done");
            assertThat(generation.last().request().promptIds())
                    .isEqualTo(renderedIds(new ChatMessage("system", "Be brief."), new ChatMessage("user", "x")));
        }
    }

    @Autowired
    qwenchat.presets.PresetStore presets;

    private String handlerPreset(String id) {
        return presets.get(id).systemPrompt();
    }

    @Test
    void stopCancelsTheGenerationWithinOneStep() throws Exception {
        generation.script(FakeGenerationService.Script.endless(5));
        try (TestSocket s = TestSocket.open(port)) {
            s.send(chat("c1", "count forever"));
            s.next("delta");
            s.send(Map.of("type", "stop"));
            JsonNode done = s.next("done");
            assertThat(done.path("finishReason").asString()).isEqualTo("cancelled");
            FakeGenerationService.Handle h = generation.last();
            assertThat(h.cancelled()).isTrue();
            assertThat(h.tokensAfterCancel()).isBetween(0, 1);
            assertThat(done.path("usage").path("completionTokens").asInt()).isEqualTo(h.emitted()).isLessThan(1000);
            // The socket is free for the next message.
            generation.script(FakeGenerationService.Script.reply("", "again"));
            s.send(chat("c2", "hi"));
            assertThat(s.next("done").path("finishReason").asString()).isEqualTo("stop");
        }
    }

    @Test
    void closingTheSocketCancelsItsGenerationAndUnsubscribes() throws Exception {
        generation.script(FakeGenerationService.Script.endless(5));
        int subscribersBefore = runtime.subscribers();
        TestSocket s = TestSocket.open(port);
        s.send(chat("c1", "count forever"));
        s.next("delta");
        s.abort();
        FakeGenerationService.Handle h = generation.last();
        long deadline = System.currentTimeMillis() + 5000;
        while (!h.isDone() && System.currentTimeMillis() < deadline) Thread.sleep(10);
        assertThat(h.cancelled()).isTrue();
        assertThat(h.isDone()).isTrue();
        assertThat(runtime.subscribers()).isEqualTo(subscribersBefore);
    }

    @Test
    void refusesASecondChatWhileOneIsGenerating() throws Exception {
        generation.script(new FakeGenerationService.Script(List.of("a"), 30, 5, "", qwenchat.generation.FinishReason.STOP, null));
        try (TestSocket s = TestSocket.open(port)) {
            s.send(chat("c1", "first"));
            s.next("start");
            s.send(chat("c2", "second"));
            JsonNode e = s.next("error");
            assertThat(e.path("id").asString()).isEqualTo("c2");
            assertThat(e.path("code").asString()).isEqualTo("generation_in_progress");
            JsonNode done = s.next("done");
            assertThat(done.path("id").asString()).isEqualTo("c1");
            assertThat(done.path("usage").path("completionTokens").asInt()).isEqualTo(30);
            assertThat(generation.handles()).hasSize(1);
        }
    }

    @Test
    void severalSocketsGenerateConcurrently() throws Exception {
        generation.script(new FakeGenerationService.Script(List.of("a"), 40, 5, "", qwenchat.generation.FinishReason.STOP, null));
        try (TestSocket a = TestSocket.open(port); TestSocket b = TestSocket.open(port); TestSocket c = TestSocket.open(port)) {
            a.send(chat("a", "hi"));
            b.send(chat("b", "hi"));
            c.send(chat("c", "hi"));
            assertThat(a.next("done").path("id").asString()).isEqualTo("a");
            assertThat(b.next("done").path("id").asString()).isEqualTo("b");
            assertThat(c.next("done").path("id").asString()).isEqualTo("c");
            assertThat(generation.maxConcurrent()).isEqualTo(3);
        }
    }

    @Test
    void oversizedFrameGetsAnErrorAndTheSocketStaysUsable() throws Exception {
        try (TestSocket s = TestSocket.open(port)) {
            s.next("status");
            String huge = "x".repeat(300 * 1024);
            s.send(chat("big", huge));
            JsonNode e = s.next("error");
            assertThat(e.path("code").asString()).isEqualTo("message_too_large");
            assertThat(e.path("message").asString()).contains("262144 bytes").contains("qwen.web.max-message-bytes");
            // A frame between Tomcat's old 8 KB default and the limit is accepted.
            s.send(Map.of("type", "count", "ref", "r1", "presetId", "general",
                    "messages", List.of(new ChatMessage("user", "y".repeat(100 * 1024)))));
            JsonNode count = s.next("count_result");
            assertThat(count.path("ref").asString()).isEqualTo("r1");
            assertThat(count.path("tokens").asInt()).isGreaterThan(1000);
        }
        assertThat(generation.handles()).isEmpty();
    }

    @Test
    void conversationLongerThanTheContextIsRefusedWithTheCounts() throws Exception {
        try (TestSocket s = TestSocket.open(port)) {
            String longText = "word ".repeat(400);
            int tokens = renderedIds(new ChatMessage("system", handlerPreset("general")), new ChatMessage("user", longText)).length;
            s.send(chat("c1", longText));
            JsonNode e = s.next("error");
            assertThat(e.path("code").asString()).isEqualTo("context_overflow");
            assertThat(e.path("message").asString()).startsWith("the conversation is " + tokens
                    + " tokens but the context window is " + FakeServing.CONTEXT + " tokens");
        }
        assertThat(generation.handles()).isEmpty();
    }

    @Test
    void maxTokensIsCappedByTheContextLeft() throws Exception {
        try (TestSocket s = TestSocket.open(port)) {
            s.send(chat("c1", "general", List.of(new ChatMessage("user", "hi")), Map.of("maxTokens", 5000)));
            JsonNode start = s.next("start");
            int prompt = start.path("promptTokens").asInt();
            assertThat(start.path("maxTokens").asInt()).isEqualTo(FakeServing.CONTEXT - prompt);
            assertThat(generation.last().request().maxNewTokens()).isEqualTo(FakeServing.CONTEXT - prompt);
        }
    }

    @Test
    void countFrameCountsTheRenderedConversationWithTheRealTokenizer() throws Exception {
        try (TestSocket s = TestSocket.open(port)) {
            List<ChatMessage> conversation = List.of(new ChatMessage("user", "你好，世界"), new ChatMessage("assistant", "Hello!"),
                    new ChatMessage("user", "Translate: good morning"));
            s.send(Map.of("type", "count", "ref", "m7", "presetId", "translator-zh-en", "messages", conversation));
            JsonNode r = s.next("count_result");
            int expected = renderedIds(new ChatMessage("system", handlerPreset("translator-zh-en")), conversation.get(0),
                    conversation.get(1), conversation.get(2)).length;
            assertThat(r.path("tokens").asInt()).isEqualTo(expected);
            assertThat(r.path("contextLength").asInt()).isEqualTo(FakeServing.CONTEXT);
            assertThat(r.path("ref").asString()).isEqualTo("m7");
        }
    }

    @Test
    void schedulerRejectionsAndBadFramesBecomeErrorFramesWithoutStackTraces() throws Exception {
        try (TestSocket s = TestSocket.open(port)) {
            generation.script(FakeGenerationService.Script.rejecting(new GenerationException(GenerationException.Code.BUSY,
                    "64 requests are waiting; retry in 2 s", 2, null)));
            s.send(chat("c1", "hi"));
            JsonNode busy = s.next("error");
            assertThat(busy.path("code").asString()).isEqualTo("busy");
            assertThat(busy.path("message").asString()).isEqualTo("64 requests are waiting; retry in 2 s");

            s.send("{not json");
            JsonNode bad = s.next("error");
            assertThat(bad.path("code").asString()).isEqualTo("invalid_request");
            assertThat(bad.path("message").asString()).startsWith("the frame is not valid JSON").doesNotContain("at tools.")
                    .contains("line 1, column");

            s.send(Map.of("type", "dance"));
            assertThat(s.next("error").path("message").asString()).isEqualTo("unknown frame type 'dance'; expected chat, stop or count");

            s.send(chat("c2", "no-such-preset", List.of(new ChatMessage("user", "x")), Map.of()));
            assertThat(s.next("error").path("message").asString()).isEqualTo("presetId 'no-such-preset' does not exist");

            s.send(chat("c3", "general", List.of(new ChatMessage("user", "x")), Map.of("topP", 1.5)));
            assertThat(s.next("error").path("message").asString()).isEqualTo("params.top_p must be in (0, 1], got 1.5");

            s.send(chat("c4", "general", List.of(new ChatMessage("wizard", "x")), Map.of()));
            assertThat(s.next("error").path("message").asString()).isEqualTo("messages[0].role must be system, user or assistant");
        }
    }

    @Test
    void idsOverTheLengthLimitOrWithControlCharactersAreRefusedNamingTheFieldAndNeverEchoed() throws Exception {
        try (TestSocket s = TestSocket.open(port)) {
            s.next("status");
            s.send(chat("x".repeat(250_000), "hi"));
            JsonNode e = s.next("error");
            assertThat(e.path("id").isNull()).isTrue();
            assertThat(e.path("message").asString()).isEqualTo("id is 250000 characters; the limit is 128");

            s.send(chat("c1\nrequest id=FORGED prompt_tokens=1", "hi"));
            assertThat(nextErrorMessage(s)).startsWith("id contains the control character U+000A at index 2");

            s.send(Map.of("type", "count", "ref", "r\u0000", "presetId", "general", "messages", List.of()));
            assertThat(nextErrorMessage(s)).startsWith("ref contains the control character U+0000");

            s.send(chat("c2", "p".repeat(129), List.of(new ChatMessage("user", "x")), Map.of()));
            JsonNode preset = s.next("error");
            assertThat(preset.path("id").asString()).isEqualTo("c2");
            assertThat(preset.path("message").asString()).isEqualTo("presetId is 129 characters; the limit is 128");

            // The longest allowed id works and comes back unchanged.
            String longest = "i".repeat(128);
            s.send(chat(longest, "hi"));
            assertThat(s.next("done").path("id").asString()).isEqualTo(longest);
        }
        assertThat(generation.handles()).hasSize(1);
        assertThat(generation.last().request().requestId()).isEqualTo("ws-" + "i".repeat(128));
    }

    @Test
    void loneSurrogatesAreRefusedInEveryTextFieldOfAFrameNamingTheField() throws Exception {
        try (TestSocket s = TestSocket.open(port)) {
            s.next("status");
            s.send("{\"type\":\"chat\",\"id\":\"c1\",\"messages\":[{\"role\":\"user\",\"content\":\"ok \\ud800 no\"}]}");
            assertThat(nextErrorMessage(s)).isEqualTo(
                    "messages[0].content contains a lone surrogate (\\ud800) at index 3; text must be valid Unicode");
            s.send("{\"type\":\"chat\",\"id\":\"c\\udc00\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
            assertThat(nextErrorMessage(s)).startsWith("id contains a lone surrogate (\\udc00)");
            s.send("{\"type\":\"count\",\"ref\":\"r\",\"presetId\":\"\\ud83d\",\"messages\":[]}");
            assertThat(nextErrorMessage(s)).startsWith("presetId contains a lone surrogate");
            s.send("{\"type\":\"chat\",\"id\":\"c2\",\"messages\":[{\"role\":\"\\ud800\",\"content\":\"x\"}]}");
            assertThat(nextErrorMessage(s)).startsWith("messages[0].role contains a lone surrogate");
            // A proper pair (an emoji) is fine.
            s.send("{\"type\":\"chat\",\"id\":\"c3\",\"messages\":[{\"role\":\"user\",\"content\":\"\\ud83d\\ude00\"}]}");
            assertThat(s.next("done").path("id").asString()).isEqualTo("c3");
        }
        assertThat(generation.handles()).hasSize(1);
    }

    @Test
    void framesWithWrongTypesGetTheFieldAndTheReasonWithoutJavaClassNames() throws Exception {
        try (TestSocket s = TestSocket.open(port)) {
            s.next("status");
            s.send("{\"type\":\"chat\",\"id\":\"c1\",\"messages\":\"hello\"}");
            assertThat(nextErrorMessage(s)).endsWith("field messages: must be an array");
            s.send("{\"type\":\"chat\",\"id\":\"c1\",\"messages\":[{\"role\":\"user\",\"content\":{\"text\":1}}]}");
            assertThat(nextErrorMessage(s)).endsWith("field messages[0].content: must be a string");
            s.send("{\"type\":\"chat\",\"id\":\"c1\",\"params\":{\"temperature\":\"hot\"}}");
            assertThat(nextErrorMessage(s)).endsWith("field params.temperature: must be a number, got 'hot'");
            s.send("{\"type\":\"chat\",\"id\":\"c1\",\"params\":{\"maxTokens\":1.5e99}}");
            assertThat(nextErrorMessage(s)).contains("field params.maxTokens");
            s.send("{\"type\":[\"chat\"]}");
            assertThat(nextErrorMessage(s)).endsWith("field type: must be a string");
            s.send("[1, 2]");
            assertThat(nextErrorMessage(s)).endsWith("the body: must be an object");
            s.send("{\"type\":\"chat\",");
            assertThat(nextErrorMessage(s)).contains("line 1, column 16").containsIgnoringCase("end-of-input");
        }
        assertThat(generation.handles()).isEmpty();
    }

    @Test
    void binaryFramesGetAnErrorFrameAndTheSocketStaysOpen() throws Exception {
        try (TestSocket s = TestSocket.open(port)) {
            s.next("status");
            s.sendBinary(new byte[] {1, 2, 3});
            assertThat(nextErrorMessage(s)).isEqualTo("binary frames are not part of this protocol; send JSON text frames");
            s.sendBinary(new byte[100_000]);
            assertThat(nextErrorMessage(s)).startsWith("binary frames");
            s.send(chat("after", "hi"));
            assertThat(s.next("done").path("id").asString()).isEqualTo("after");
            assertThat(s.isClosed()).isFalse();
        }
    }

    @Test
    void refusesForeignOriginsButAcceptsConfiguredOnes() throws Exception {
        assertThatThrownBy(() -> TestSocket.open(port, "http://evil.example"))
                .hasStackTraceContaining("403");
        try (TestSocket ok = TestSocket.open(port, "http://allowed.example")) {
            assertThat(ok.next("status").path("state").asString()).isEqualTo("READY");
        }
        try (TestSocket same = TestSocket.open(port, "http://localhost:" + port)) {
            assertThat(same.next("status").path("state").asString()).isEqualTo("READY");
        }
    }

    @Test
    void socketsAreForgottenWhenClosed() throws Exception {
        int before = handler.openSessions();
        TestSocket s = TestSocket.open(port);
        s.next("status");
        assertThat(handler.openSessions()).isEqualTo(before + 1);
        s.close();
        assertThat(s.closedWith.get(5, TimeUnit.SECONDS)).isEqualTo(1000);
        long deadline = System.currentTimeMillis() + 5000;
        while (handler.openSessions() > before && System.currentTimeMillis() < deadline) Thread.sleep(10);
        assertThat(handler.openSessions()).isEqualTo(before);
    }

    @Test
    void pageIsServedWithAStrictContentSecurityPolicyAndItsLibraries() throws Exception {
        var http = java.net.http.HttpClient.newHttpClient();
        var page = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://localhost:" + port + "/"))
                .header("Accept-Language", "zh-CN,zh;q=0.9").build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.headers().firstValue("Content-Security-Policy")).hasValue(qwenchat.security.SecurityConfiguration.CONTENT_SECURITY_POLICY);
        assertThat(page.body()).contains("<html lang=\"zh\"").contains("/webjars/dompurify/dist/purify.min.js")
                .doesNotContain("<script>");
        for (String asset : List.of("/webjars/marked/marked.min.js", "/webjars/dompurify/dist/purify.min.js",
                "/webjars/highlightjs/highlight.min.js", "/webjars/katex/dist/katex.min.js", "/theme.js", "/chat.js", "/app.css")) {
            var r = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://localhost:" + port + asset)).build(),
                    java.net.http.HttpResponse.BodyHandlers.discarding());
            assertThat(r.statusCode()).as(asset).isEqualTo(200);
        }
    }
}
