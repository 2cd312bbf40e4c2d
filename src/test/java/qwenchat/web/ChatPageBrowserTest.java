package qwenchat.web;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.StreamSupport;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.openqa.selenium.By;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Primary;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import qwenchat.presets.PresetStore;
import qwenchat.serving.HeldEngines;
import qwenchat.serving.BatchScheduler;
import qwenchat.serving.EngineFactory;
import qwenchat.serving.ModelRuntime;
import qwenchat.serving.QwenProperties;
import qwenchat.serving.ServedModel;
import qwenchat.tokenizer.ChatMessage;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The chat page in headless Debian chromium against the real app on the demo checkpoint. The
 * engine is held at the weights stage until the first test has seen the loading screen.
 * Screenshots go to target/screenshots/.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "qwen.demo-dir=target/qwen-chat-demo", "qwen.cpu-threads=2", "qwen.kv-max-sequences=4",
        "qwen.admin.token=" + ChatPageBrowserTest.ADMIN_TOKEN})
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ChatPageBrowserTest {

    static final String ADMIN_TOKEN = "browser-admin-token";
    static final CountDownLatch RELEASE = new CountDownLatch(1);

    @TestConfiguration
    static class HeldEngine {
        @Bean
        @Primary
        EngineFactory heldEngineFactory(QwenProperties properties) {
            return HeldEngines.heldUntil(RELEASE, properties);
        }
    }

    @DynamicPropertySource
    static void dataDir(DynamicPropertyRegistry r) throws Exception {
        String dir = Files.createTempDirectory("qwen-webchat-browser").toString();
        r.add("qwen.data-dir", () -> dir);
    }

    @LocalServerPort
    int port;
    @Autowired
    ModelRuntime runtime;
    @Autowired
    PresetStore presets;
    @Autowired
    BatchScheduler scheduler;

    ChromeDriver driver;
    WebDriverWait wait;
    Path downloads;

    @BeforeAll
    void startBrowser() throws Exception {
        downloads = Files.createTempDirectory("qwen-webchat-downloads");
        driver = HeadlessChromium.start(downloads);
        wait = new WebDriverWait(driver, Duration.ofSeconds(60));
        // Streaming re-renders message bubbles: an element found a moment ago may be replaced.
        wait.ignoring(StaleElementReferenceException.class);
    }

    @AfterAll
    void stopBrowser() {
        RELEASE.countDown();
        if (driver != null) driver.quit();
    }

    private Object js(String script, Object... args) {
        return ((JavascriptExecutor) driver).executeScript(script, args);
    }

    private void shot(String name) throws Exception {
        HeadlessChromium.screenshot(driver, name);
    }

    private WebElement el(String id) {
        return driver.findElement(By.id(id));
    }

    private List<WebElement> messages(String role) {
        return driver.findElements(By.cssSelector("#messages .msg." + role + ":not(.greeting)"));
    }

    private void setMaxTokens(int n) {
        el("open-settings").click();
        WebElement input = el("set-maxTokens");
        input.clear();
        input.sendKeys(String.valueOf(n), Keys.TAB);
        el("close-settings").click();
    }

    private void sendMessage(String text) {
        WebElement input = el("input");
        input.sendKeys(text);
        input.sendKeys(Keys.ENTER);
    }

    private void waitUntilIdle() {
        // A send first asks the server to count the message (it may not fit): until that answer,
        // no reply has started, yet the Stop button is still hidden.
        wait.until(d -> Boolean.FALSE.equals(js("return QwenChat.sending"))
                && el("stop-btn").getAttribute("hidden") != null && el("send-btn").isDisplayed());
    }

    @Test
    @Order(1)
    void loadingScreenShowsProgressThenTurnsIntoTheChatByItself() throws Exception {
        driver.get("http://localhost:" + port + "/");
        new WebDriverWait(driver, Duration.ofSeconds(60)).withMessage(() -> "loading screen never showed the held weights stage; "
                + "runtime: " + runtime.status().state() + "/" + runtime.status().stage() + ", page: "
                + js("return document.getElementById('loading-screen').innerText")).until(d -> el("loading-screen").isDisplayed()
                && d.findElements(By.cssSelector("#stage-list li.current")).size() == 1
                && d.findElement(By.cssSelector("#stage-list li.current")).getAttribute("data-stage").equals("LOAD_WEIGHTS"));
        assertThat(el("app").isDisplayed()).isFalse();
        assertThat(driver.findElements(By.cssSelector("#stage-list li.done"))).hasSizeGreaterThanOrEqualTo(2);
        assertThat(el("loading-model").getText()).contains("demo weights (random)");
        assertThat(el("progress-percent").getText()).matches("\\d+%");
        shot("loading.png");

        RELEASE.countDown();
        wait.until(d -> el("app").isDisplayed());
        assertThat(el("loading-screen").isDisplayed()).isFalse();
        assertThat(el("demo-badge").isDisplayed()).isTrue();
        assertThat(el("demo-badge").getText()).isEqualTo("demo weights (random)");
        assertThat(el("model-name").getText()).isEqualTo("Qwen2.5 · cpu");
        int context = runtime.served().orElseThrow().contextLength();
        wait.until(d -> el("context-size").getText().equals(String.valueOf(context)));
    }

    @Test
    @Order(2)
    void aReplyStreamsInWithItsStats() throws Exception {
        setMaxTokens(48);
        // Shift+Enter is a new line, not a send.
        el("input").sendKeys("line one", Keys.chord(Keys.SHIFT, Keys.ENTER), "line two");
        assertThat(el("input").getAttribute("value")).isEqualTo("line one\nline two");
        assertThat(messages("user")).isEmpty();
        el("input").clear();
        sendMessage("Hello there");
        wait.until(d -> messages("assistant").size() == 1);
        assertThat(messages("user")).extracting(WebElement::getText).anyMatch(t -> t.startsWith("Hello there"));
        waitUntilIdle();
        WebElement reply = messages("assistant").get(0);
        assertThat(reply.findElement(By.cssSelector(".content")).getText()).isNotBlank();
        String stats = reply.findElement(By.cssSelector(".stats")).getText();
        assertThat(stats).matches("48 tokens · [0-9.]+ tok/s · TTFT \\d+ ms · length limit");
        // The context meter counts the whole conversation with the server's tokenizer.
        wait.until(d -> Integer.parseInt(el("context-used").getText()) > 48);
        // All the top bar's controls fit one row.
        assertThat(el("topbar").getRect().getHeight()).isLessThan(60);
        shot("chat.png");
    }

    @Test
    @Order(3)
    void stopEndsALongReply() throws Exception {
        setMaxTokens(3000);
        sendMessage("Tell me a very long story");
        wait.until(d -> el("stop-btn").isDisplayed()
                && !messages("assistant").get(messages("assistant").size() - 1).getText().isBlank());
        long t0 = System.nanoTime();
        el("stop-btn").click();
        waitUntilIdle();
        double stopMillis = (System.nanoTime() - t0) / 1e6;
        WebElement reply = messages("assistant").get(messages("assistant").size() - 1);
        String stats = reply.findElement(By.cssSelector(".stats")).getText();
        assertThat(stats).endsWith("stopped");
        int tokens = Integer.parseInt(stats.substring(0, stats.indexOf(' ')));
        assertThat(tokens).isBetween(1, 2999);
        System.out.printf("stop: reply ended %.0f ms after the click, at %d tokens%n", stopMillis, tokens);
        assertThat(stopMillis).isLessThan(5000);
    }

    @Test
    @Order(4)
    void switchingPresetChangesGreetingAndThePromptTheServerCounts() throws Exception {
        el("new-chat").click();
        wait.until(d -> messages("user").isEmpty());
        ServedModel model = runtime.served().orElseThrow();
        int general = model.chatTemplate().render(List.of(new ChatMessage("system", presets.get("general").systemPrompt())), true).ids().length;
        int translator = model.chatTemplate().render(List.of(new ChatMessage("system", presets.get("translator-zh-en").systemPrompt())), true).ids().length;
        assertThat(translator).isNotEqualTo(general);
        wait.until(d -> el("context-used").getText().equals(String.valueOf(general)));

        new Select(el("preset-select")).selectByValue("translator-zh-en");
        wait.until(d -> el("context-used").getText().equals(String.valueOf(translator)));
        assertThat(driver.findElement(By.cssSelector("#messages .greeting")).getText())
                .contains("Send me Chinese or English text and I will translate it.");
        driver.findElements(By.cssSelector("#messages .example")).get(0).click();
        assertThat(el("input").getAttribute("value")).startsWith("The early bird");
        setMaxTokens(8);
        el("send-btn").click();
        waitUntilIdle();
        // The conversation remembers its preset.
        assertThat(js("return JSON.parse(localStorage.getItem('qwenchat.conversations')).find(c => c.id === localStorage.getItem('qwenchat.current')).presetId"))
                .isEqualTo("translator-zh-en");
        shot("preset.png");
    }

    @Test
    @Order(5)
    void scriptAndEventHandlerPayloadsInModelOutputRenderInert() throws Exception {
        String payload = """
                {"conversations":[{"id":"xss","title":"XSS check","presetId":"general","updatedAt":1,"messages":[
                 {"role":"user","content":"<img src=x onerror=\\"window.__xss='user'\\">"},
                 {"role":"assistant","content":"Hi <img src=x onerror=\\"window.__xss='img'\\"> <script>window.__xss='script'</script> [click](javascript:window.__xss='link') [docs](https://example.com/) <svg onload=\\"window.__xss='svg'\\"></svg> <iframe src=\\"javascript:window.__xss='iframe'\\"></iframe>\\n\\n```java\\nclass A { int x = 1; }\\n```"}]}]}""";
        Path file = Files.createTempFile("xss-conversation", ".json");
        Files.writeString(file, payload);
        el("import-conversations").sendKeys(file.toAbsolutePath().toString());
        wait.until(d -> d.findElements(By.cssSelector("#conv-list .conv.active[data-id='xss']")).size() == 1);
        WebElement reply = messages("assistant").get(0);
        driver.findElements(By.cssSelector("#messages .msg.assistant a:not([href^='http'])")).forEach(a -> {
            try { a.click(); } catch (RuntimeException ignored) { /* no href left to follow */ }
        });
        Thread.sleep(300);
        assertThat(js("return window.__xss === undefined")).isEqualTo(true);
        assertThat(driver.findElements(By.cssSelector("#messages script, #messages iframe, #messages [onerror], #messages [onload]"))).isEmpty();
        assertThat(driver.findElements(By.cssSelector("#messages a[href^='javascript']"))).isEmpty();
        // Ordinary links survive and open in a new tab that cannot reach back into the page.
        assertThat(driver.findElements(By.cssSelector("#messages a[href='https://example.com/'][target='_blank'][rel='noopener noreferrer']"))).hasSize(1);
        // The user's text is shown literally, not parsed.
        assertThat(messages("user").get(0).findElement(By.cssSelector(".content")).getText()).startsWith("<img src=x onerror=");
        // The code block survives sanitising, highlighted, with a copy button.
        assertThat(reply.findElements(By.cssSelector("pre code.hljs.language-java"))).hasSize(1);
        assertThat(reply.findElement(By.cssSelector("pre .copy-code")).getText()).isEqualTo("Copy");
        shot("xss.png");
    }

    @Test
    @Order(6)
    void reloadKeepsTheConversations() throws Exception {
        @SuppressWarnings("unchecked")
        List<String> before = (List<String>) js("return [...document.querySelectorAll('#conv-list .conv')].map(e => e.dataset.id)");
        String current = (String) js("return localStorage.getItem('qwenchat.current')");
        driver.navigate().refresh();
        wait.until(d -> el("app").isDisplayed());
        wait.until(d -> d.findElements(By.cssSelector("#conv-list .conv")).size() == before.size());
        assertThat(driver.findElement(By.cssSelector("#conv-list .conv.active")).getAttribute("data-id")).isEqualTo(current);
        assertThat(messages("assistant")).hasSize(1);
        assertThat(messages("user").get(0).getText()).startsWith("<img src=x onerror=");

        // The first conversation, with its reply and stats, comes back too.
        driver.findElements(By.cssSelector("#conv-list .conv-title")).stream()
                .filter(t -> t.getText().equals("Hello there")).findFirst().orElseThrow().click();
        wait.until(d -> messages("user").size() == 2);
        assertThat(messages("assistant").get(0).findElement(By.cssSelector(".stats")).getText()).startsWith("48 tokens");
    }

    @Test
    @Order(7)
    void worksOnAPhoneSizedScreenInChinese() throws Exception {
        driver.manage().window().setSize(new Dimension(390, 844));
        el("lang-switch").click();
        try {
            onAPhoneInChinese();
        } finally {
            // Later tests expect English on a desktop-sized window, whatever happened here.
            js("document.body.classList.remove('sidebar-open')");
            if (!"en".equals(js("return I18N.lang"))) el("lang-switch").click();
            driver.manage().window().setSize(new Dimension(1280, 900));
        }
    }

    private void onAPhoneInChinese() throws Exception {
        assertThat(el("send-btn").getText()).isEqualTo("发送");
        // The badge is short on a phone; its full text stays in the tooltip.
        assertThat(el("demo-badge").getText()).isEqualTo("演示");
        assertThat(el("demo-badge").getAttribute("title")).isEqualTo("演示权重（随机）");
        // The top bar is one row of controls, all inside the screen, the preset menu not cut off.
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> bar = (List<Map<String, Object>>) js("return [...document.querySelectorAll('#topbar > *')]"
                + ".filter(e => e.getBoundingClientRect().width > 1).map(e => { const r = e.getBoundingClientRect(); return {id: e.id || e.className, top: r.top, bottom: r.bottom, left: r.left, right: r.right}; })");
        java.util.function.Function<Map<String, Object>, Double> middle =
                e -> (((Number) e.get("top")).doubleValue() + ((Number) e.get("bottom")).doubleValue()) / 2;
        double row = middle.apply(bar.get(0));
        assertThat(bar).hasSizeGreaterThanOrEqualTo(6).allSatisfy(e -> {
            assertThat(middle.apply(e)).as("middle of %s", e).isCloseTo(row, org.assertj.core.data.Offset.offset(8.0));
            assertThat(((Number) e.get("left")).doubleValue()).as("left of %s", e).isGreaterThanOrEqualTo(0);
            assertThat(((Number) e.get("right")).doubleValue()).as("right of %s", e).isLessThanOrEqualTo(390);
        });
        assertThat(el("topbar").getRect().getHeight()).isLessThan(60);
        assertThat(el("preset-select").getRect().getWidth()).isGreaterThanOrEqualTo(110);
        assertThat(((Number) js("return document.documentElement.scrollWidth")).intValue()).isLessThanOrEqualTo(390);
        // The sidebar slides out of view (a 0.2 s transition) once the screen is phone-sized.
        wait.until(d -> el("sidebar").getRect().getX() + el("sidebar").getRect().getWidth() <= 0);
        el("toggle-sidebar").click();
        wait.until(d -> el("sidebar").getRect().getX() >= 0);
        assertThat(el("backdrop").isDisplayed()).isTrue();
        shot("phone-drawer.png");
        el("close-sidebar").click();
        wait.until(d -> el("sidebar").getRect().getX() + el("sidebar").getRect().getWidth() <= 0);
        // A tap beside the open drawer closes it.
        el("toggle-sidebar").click();
        wait.until(d -> el("sidebar").getRect().getX() >= 0);
        new org.openqa.selenium.interactions.Actions(driver).moveToLocation(375, 500).click().perform();
        wait.until(d -> el("sidebar").getRect().getX() + el("sidebar").getRect().getWidth() <= 0);
        assertThat(el("backdrop").isDisplayed()).isFalse();
        assertThat(el("input").isDisplayed()).isTrue();
        shot("phone-zh.png");
    }

    private void openConversationTitled(String title) {
        driver.findElements(By.cssSelector("#conv-list .conv-title")).stream()
                .filter(t -> t.getText().equals(title)).findFirst().orElseThrow().click();
    }

    @Test
    @Order(8)
    void editingAUserMessageResendsFromThere() throws Exception {
        openConversationTitled("Hello there");
        wait.until(d -> messages("user").size() == 2);
        setMaxTokens(6);
        long completed = scheduler.stats().completed();
        messages("user").get(0).findElement(By.cssSelector(".edit-msg")).click();
        WebElement box = driver.findElement(By.cssSelector("#messages .edit-box"));
        box.clear();
        box.sendKeys("Hi again");
        driver.findElement(By.cssSelector("#messages .save-edit")).click();
        waitUntilIdle();
        assertThat(messages("user")).extracting(e -> e.findElement(By.cssSelector(".content")).getText()).containsExactly("Hi again");
        assertThat(messages("assistant")).hasSize(1);
        assertThat(messages("assistant").get(0).findElement(By.cssSelector(".stats")).getText()).startsWith("6 tokens");
        assertThat(scheduler.stats().completed()).isEqualTo(completed + 1);
    }

    @Test
    @Order(9)
    void regenerateReplacesTheLastReply() throws Exception {
        long completed = scheduler.stats().completed();
        el("regenerate").click();
        waitUntilIdle();
        assertThat(scheduler.stats().completed()).isEqualTo(completed + 1);
        assertThat(messages("user")).hasSize(1);
        assertThat(messages("assistant")).hasSize(1);
        assertThat(messages("assistant").get(0).findElement(By.cssSelector(".stats")).getText()).startsWith("6 tokens");
    }

    @Test
    @Order(10)
    void customPresetMadeInTheDialogIsSavedValidatedAndUsable() throws Exception {
        el("new-chat").click();
        el("manage-presets").click();
        el("pf-id").sendKeys("pirate");
        el("pf-name-en").sendKeys("Pirate");
        el("pf-system").sendKeys("You are a pirate. Answer like one.");
        el("pf-topP").sendKeys("5");
        // Preset changes are admin-only: the first save is refused and the dialog asks for the token.
        el("pf-save").click();
        wait.until(d -> el("pf-auth").isDisplayed());
        assertThat(el("pf-error").getText()).contains("admin token");
        assertThat(presets.find("pirate")).isEmpty();
        el("pf-token").sendKeys(ADMIN_TOKEN);
        el("pf-save").click();
        wait.until(d -> el("pf-error").getText().startsWith("sampling.topP"));
        assertThat(el("pf-error").getText()).isEqualTo("sampling.topP: must be in (0, 1], got 5.0");
        assertThat(presets.find("pirate")).isEmpty();

        el("pf-topP").clear();
        el("pf-topP").sendKeys("0.9");
        el("pf-save").click();
        wait.until(d -> presets.find("pirate").isPresent());
        assertThat(presets.get("pirate").sampling().topP()).isEqualTo(0.9);
        // The list is rebuilt after each save, so ask the page rather than hold elements.
        wait.until(d -> Boolean.TRUE.equals(js("return [...document.querySelectorAll('#preset-admin-list li')].some(li => li.textContent.startsWith('Pirate'))")));
        el("pf-close").click();

        new Select(el("preset-select")).selectByValue("pirate");
        ServedModel model = runtime.served().orElseThrow();
        int expected = model.chatTemplate().render(List.of(new ChatMessage("system", "You are a pirate. Answer like one.")), true).ids().length;
        wait.until(d -> el("context-used").getText().equals(String.valueOf(expected)));
        // Built-ins cannot be edited: the dialog offers a copy instead.
        el("manage-presets").click();
        WebElement general = driver.findElements(By.cssSelector("#preset-admin-list li")).get(0);
        assertThat(general.getText()).contains("built-in");
        assertThat(general.findElement(By.tagName("button")).getText()).isEqualTo("Copy");
        el("pf-close").click();
    }

    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** Waits for chromium to finish writing {@code name} into the download folder (it writes a .crdownload first). */
    private Path awaitDownload(String name) {
        Path file = downloads.resolve(name);
        new WebDriverWait(driver, Duration.ofSeconds(20), Duration.ofMillis(50))
                .withMessage(() -> "no download " + name + " in " + downloads)
                .until(d -> {
                    try (var files = Files.list(downloads)) {
                        return Files.isRegularFile(file) && files.noneMatch(f -> f.toString().endsWith(".crdownload"));
                    } catch (java.io.IOException e) {
                        return false;
                    }
                });
        return file;
    }

    /** Confirms the page's confirm() dialog. */
    private void acceptConfirm() {
        wait.until(ExpectedConditions.alertIsPresent()).accept();
    }

    @SuppressWarnings("unchecked")
    private List<String> storedConversationIds() {
        return (List<String>) js("return Store.conversations().map(c => c.id)");
    }

    @SuppressWarnings("unchecked")
    private List<String> listedConversationIds() {
        return (List<String>) js("return [...document.querySelectorAll('#conv-list .conv')].map(e => e.dataset.id)");
    }

    private static JsonNode conversation(JsonNode file, String id) {
        return StreamSupport.stream(file.get("conversations").spliterator(), false)
                .filter(c -> c.get("id").asString().equals(id)).findFirst().orElseThrow(() -> new AssertionError("no conversation " + id + " in the export"));
    }

    @Test
    @Order(11)
    void exportedConversationsComeBackAfterDeletingThemAndImportingTheFile() throws Exception {
        waitUntilIdle();
        List<String> ids = storedConversationIds();
        assertThat(ids).contains("xss").hasSizeGreaterThanOrEqualTo(3);
        String storedBefore = (String) js("return JSON.stringify(Store.conversations())");

        el("export-conversations").click();
        Path file = awaitDownload("qwen-chat-conversations.json");
        JsonNode exported = JSON.readTree(file.toFile());
        assertThat(exported.get("version").asInt()).isEqualTo(1);
        assertThat(StreamSupport.stream(exported.get("conversations").spliterator(), false).map(c -> c.get("id").asString()))
                .containsExactlyElementsOf(ids);
        // Every field the page keeps is in the file, the reply stats included.
        assertThat(JSON.readTree(storedBefore)).isEqualTo(exported.get("conversations"));
        JsonNode xss = conversation(exported, "xss");
        assertThat(xss.get("title").asString()).isEqualTo("XSS check");
        assertThat(xss.get("messages").get(1).get("content").asString()).contains("```java\nclass A { int x = 1; }\n```");

        for (String id : ids) {
            driver.findElement(By.cssSelector("#conv-list .conv[data-id='" + id + "'] .conv-delete")).click();
            acceptConfirm();
            wait.until(d -> !listedConversationIds().contains(id));
        }
        assertThat(storedConversationIds()).isEmpty();
        assertThat(messages("assistant")).isEmpty();

        el("import-conversations").sendKeys(file.toAbsolutePath().toString());
        wait.until(d -> listedConversationIds().containsAll(ids));
        // The first imported conversation opens.
        assertThat(driver.findElement(By.cssSelector("#conv-list .conv.active")).getAttribute("data-id")).isEqualTo(ids.get(0));

        driver.navigate().refresh();
        wait.until(d -> el("app").isDisplayed());
        wait.until(d -> listedConversationIds().containsAll(ids));
        assertThat(storedConversationIds()).containsExactlyElementsOf(ids);
        assertThat(JSON.readTree((String) js("return JSON.stringify(Store.conversations())"))).isEqualTo(exported.get("conversations"));

        openConversationTitled("Hello there");
        wait.until(d -> messages("user").size() == 1 && messages("assistant").size() == 1);
        assertThat(messages("user").get(0).findElement(By.cssSelector(".content")).getText()).isEqualTo("Hi again");
        assertThat(messages("assistant").get(0).findElement(By.cssSelector(".stats")).getText()).startsWith("6 tokens");

        openConversationTitled("XSS check");
        wait.until(d -> "xss".equals(d.findElement(By.cssSelector("#conv-list .conv.active")).getAttribute("data-id")));
        wait.until(d -> messages("assistant").size() == 1);
        assertThat(messages("user").get(0).findElement(By.cssSelector(".content")).getText()).startsWith("<img src=x onerror=");
        assertThat(messages("assistant").get(0).findElements(By.cssSelector("pre code.hljs.language-java"))).hasSize(1);
        // The server counts the imported conversation like any other.
        ServedModel model = runtime.served().orElseThrow();
        List<ChatMessage> framed = new java.util.ArrayList<>(List.of(new ChatMessage("system", presets.get("general").systemPrompt())));
        xss.get("messages").forEach(m -> framed.add(new ChatMessage(m.get("role").asString(), m.get("content").asString())));
        int counted = model.chatTemplate().render(framed, true).ids().length;
        wait.until(d -> el("context-used").getText().equals(String.valueOf(counted)));
        shot("imported.png");
    }

    @Test
    @Order(12)
    void copyButtonPutsTheCodeBlockOnTheClipboard() throws Exception {
        openConversationTitled("XSS check");
        wait.until(d -> "xss".equals(d.findElement(By.cssSelector("#conv-list .conv.active")).getAttribute("data-id")));
        String content = (String) js("return Store.conversations().find(c => c.id === 'xss').messages[1].content");
        String fenced = content.substring(content.indexOf("```java\n") + "```java\n".length(), content.lastIndexOf("```"));
        driver.executeCdpCommand("Browser.grantPermissions", Map.of("origin", "http://localhost:" + port,
                "permissions", List.of("clipboardReadWrite", "clipboardSanitizedWrite")));

        WebElement copy = messages("assistant").get(0).findElement(By.cssSelector("pre .copy-code"));
        assertThat(copy.getText()).isEqualTo("Copy");
        copy.click();
        // The feedback lasts 1.2 s, so poll faster than the default half second.
        new WebDriverWait(driver, Duration.ofSeconds(5), Duration.ofMillis(20)).until(d -> copy.getText().equals("Copied"));
        Object clip = driver.executeAsyncScript("const done = arguments[arguments.length - 1];"
                + "navigator.clipboard.readText().then(done, e => done({error: String(e)}));");
        assertThat(clip).isEqualTo(fenced);
        wait.until(d -> copy.getText().equals("Copy"));

        // Where the clipboard API refuses, the page falls back to a selected textarea and execCommand.
        driver.executeAsyncScript("const done = arguments[arguments.length - 1]; navigator.clipboard.writeText('something else').then(done, done);");
        js("window.__realWriteText = navigator.clipboard.writeText;"
                + "navigator.clipboard.writeText = () => Promise.reject(new DOMException('refused by the test', 'NotAllowedError'));");
        try {
            copy.click();
            new WebDriverWait(driver, Duration.ofSeconds(5), Duration.ofMillis(20)).until(d -> copy.getText().equals("Copied"));
            assertThat(driver.executeAsyncScript("const done = arguments[arguments.length - 1];"
                    + "navigator.clipboard.readText().then(done, e => done({error: String(e)}));")).isEqualTo(fenced);
            wait.until(d -> copy.getText().equals("Copy"));

            // And where that is refused too, the button says so instead of claiming success.
            js("window.__realExec = document.execCommand; document.execCommand = () => false;");
            copy.click();
            new WebDriverWait(driver, Duration.ofSeconds(5), Duration.ofMillis(20)).until(d -> copy.getText().equals("Copy failed"));
            wait.until(d -> copy.getText().equals("Copy"));
        } finally {
            js("navigator.clipboard.writeText = window.__realWriteText; if (window.__realExec) document.execCommand = window.__realExec;");
        }
        assertThat(driver.findElements(By.cssSelector("body > textarea"))).isEmpty();
    }

    @Test
    @Order(13)
    void customPresetsExportedFromTheDialogImportBack() throws Exception {
        String haiku = """
                {"id":"haiku","name":{"en":"Haiku","zh":"俳句"},"description":{"en":"Answers in haiku","zh":"用俳句回答"},
                 "systemPrompt":"Answer every question as a haiku.","sampling":{"temperature":0.6,"topK":30,"maxTokens":64},
                 "greeting":{"en":"Ask, and I reply in seventeen syllables.","zh":"请提问。"},"examples":["Why is the sky blue?"]}""";
        HttpResponse<String> created = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/api/presets"))
                .header("Content-Type", "application/json").header("Authorization", "Bearer " + ADMIN_TOKEN)
                .POST(HttpRequest.BodyPublishers.ofString(haiku)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        var original = presets.get("haiku");
        List<String> customIds = presets.exportCustom().stream().map(p -> p.id()).toList();
        assertThat(customIds).contains("haiku", "pirate");

        // The page reads the preset list when it loads.
        driver.navigate().refresh();
        wait.until(d -> el("app").isDisplayed());
        wait.until(d -> d.findElements(By.cssSelector("#preset-select option[value='haiku']")).size() == 1);
        js("sessionStorage.setItem('qwenchat.adminToken', arguments[0])", ADMIN_TOKEN);

        el("manage-presets").click();
        el("presets-export").click();
        Path file = awaitDownload("qwen-chat-presets.json");
        JsonNode exported = JSON.readTree(file.toFile());
        assertThat(StreamSupport.stream(exported.get("presets").spliterator(), false).map(p -> p.get("id").asString()))
                .containsExactlyInAnyOrderElementsOf(customIds);
        // Downloading must not navigate the page away from the chat.
        assertThat(el("preset-dialog").isDisplayed()).isTrue();

        for (String id : customIds) {
            String name = presets.get(id).name().en();
            // The list is rebuilt after each change: find and click in one retried step.
            wait.until(d -> {
                d.findElements(By.cssSelector("#preset-admin-list li")).stream()
                        .filter(li -> li.getText().startsWith(name)).findFirst().orElseThrow()
                        .findElement(By.cssSelector("button.danger")).click();
                return true;
            });
            acceptConfirm();
            wait.until(d -> presets.find(id).isEmpty());
        }
        wait.until(d -> d.findElements(By.cssSelector("#preset-select option[value='haiku'], #preset-select option[value='pirate']")).isEmpty());

        el("presets-import").sendKeys(file.toAbsolutePath().toString());
        wait.until(d -> customIds.stream().allMatch(id -> presets.find(id).isPresent()));
        assertThat(presets.get("haiku")).isEqualTo(original);
        wait.until(d -> d.findElements(By.cssSelector("#preset-select option[value='haiku'], #preset-select option[value='pirate']")).size() == 2);
        wait.until(d -> Boolean.TRUE.equals(js("return [...document.querySelectorAll('#preset-admin-list li')].some(li => li.textContent.startsWith('Haiku'))")));
        assertThat(el("pf-error").isDisplayed()).isFalse();
        el("pf-close").click();

        el("new-chat").click();
        new Select(el("preset-select")).selectByValue("haiku");
        wait.until(d -> d.findElement(By.cssSelector("#messages .greeting")).getText().contains("Ask, and I reply in seventeen syllables."));
        shot("presets-imported.png");
    }

    @Test
    @Order(14)
    void importedReplyStatsOfTheWrongTypeDoNotBreakThePage() throws Exception {
        Path file = Files.createTempFile("bad-stats", ".json");
        Files.writeString(file, """
                {"conversations":[{"id":"bad-stats","title":"Bad stats","presetId":"general","updatedAt":2,"messages":[
                 {"role":"user","content":"hi"},
                 {"role":"assistant","content":"hello","stats":{"tokens":"many","tps":"fast","ttft":{"ms":1},"finishReason":"length"}}]}]}""");
        el("import-conversations").sendKeys(file.toAbsolutePath().toString());
        wait.until(d -> d.findElements(By.cssSelector("#conv-list .conv.active[data-id='bad-stats']")).size() == 1);
        wait.until(d -> messages("assistant").size() == 1);
        assertThat(messages("assistant").get(0).findElement(By.cssSelector(".content")).getText()).isEqualTo("hello");
        assertThat(messages("assistant").get(0).findElement(By.cssSelector(".stats")).getText()).isEqualTo("0 tokens · length limit");
        // It is the open conversation after a reload too, so a throw here would leave the page blank every time.
        driver.navigate().refresh();
        wait.until(d -> el("app").isDisplayed());
        wait.until(d -> messages("assistant").size() == 1);
        assertThat(messages("user").get(0).findElement(By.cssSelector(".content")).getText()).isEqualTo("hi");
    }

    @Test
    @Order(15)
    void importingAFileWithoutConversationsSaysWhyAndChangesNothing() throws Exception {
        String before = (String) js("return localStorage.getItem('qwenchat.conversations')");
        Path file = Files.createTempFile("not-conversations", ".json");
        // The second entry has no messages: the whole file is refused, not half imported.
        Files.writeString(file, "{\"conversations\":[{\"id\":\"fine\",\"messages\":[]},{\"id\":\"broken\",\"title\":\"no messages\"}]}");
        el("import-conversations").sendKeys(file.toAbsolutePath().toString());
        var alert = wait.until(ExpectedConditions.alertIsPresent());
        assertThat(alert.getText()).isEqualTo("Import failed: not a conversation");
        alert.accept();
        assertThat(js("return localStorage.getItem('qwenchat.conversations')")).isEqualTo(before);
        assertThat(listedConversationIds()).doesNotContain("fine", "broken");
    }

    private String lastStats() {
        List<WebElement> replies = messages("assistant");
        return replies.get(replies.size() - 1).findElement(By.cssSelector(".stats")).getText();
    }

    /** Makes every new socket fail to connect, as while the server is down; {@link #serverBack()} undoes it. */
    private void serverDown() {
        js("if (!window.__realWebSocket) window.__realWebSocket = window.WebSocket;"
                + "window.WebSocket = function () { return new window.__realWebSocket('ws://127.0.0.1:9/'); };");
        js("QwenChat.dropConnection()");
    }

    private void serverBack() {
        js("if (window.__realWebSocket) window.WebSocket = window.__realWebSocket;");
    }

    @Test
    @Order(16)
    void aMessageSentWhileTheServerIsDownWaitsVisiblyAndGoesOutOnReconnect() throws Exception {
        el("new-chat").click();
        setMaxTokens(4);
        serverDown();
        wait.until(d -> el("connection-banner").isDisplayed());
        sendMessage("Sent while offline");
        wait.until(d -> messages("user").size() == 1);
        WebElement user = messages("user").get(0);
        assertThat(user.getText()).contains("Sent while offline").contains("Waiting for connection…");
        assertThat(el("input").getAttribute("value")).isEmpty();
        assertThat(messages("assistant")).isEmpty();
        // It is stored at once, so even a reload does not lose it.
        assertThat(js("return Store.conversations().some(c => c.messages.some(m => m.content === 'Sent while offline'))")).isEqualTo(true);
        shot("queued.png");

        serverBack();
        wait.until(d -> messages("assistant").size() == 1 && el("stop-btn").getAttribute("hidden") != null);
        assertThat(lastStats()).startsWith("4 tokens");
        assertThat(driver.findElements(By.cssSelector("#messages .queued-note"))).isEmpty();
        assertThat(el("connection-banner").isDisplayed()).isFalse();
    }

    @Test
    @Order(17)
    void aReplyCutOffByALostServerShowsInterruptedWithRetry() throws Exception {
        el("new-chat").click();
        setMaxTokens(3000);
        sendMessage("Tell me a long story");
        wait.until(d -> el("stop-btn").isDisplayed() && !messages("assistant").get(0).getText().isBlank());
        serverDown();
        wait.until(d -> !d.findElements(By.cssSelector("#messages .stats.interrupted")).isEmpty());
        assertThat(lastStats()).startsWith("Interrupted: the connection to the server was lost.");
        assertThat(lastStats()).doesNotContain("0 tokens");
        // What arrived before the loss is kept.
        assertThat(messages("assistant").get(0).findElement(By.cssSelector(".content")).getText()).isNotBlank();
        shot("interrupted.png");

        serverBack();
        wait.until(d -> !el("connection-banner").isDisplayed());
        setMaxTokens(5);
        messages("assistant").get(0).findElement(By.cssSelector(".stats .retry")).click();
        waitUntilIdle();
        assertThat(messages("assistant")).hasSize(1);
        assertThat(lastStats()).startsWith("5 tokens");
    }

    @Test
    @Order(18)
    void whileTheModelReloadsAfterARestartTheConversationStaysOnScreenWithABanner() throws Exception {
        int shown = messages("user").size() + messages("assistant").size();
        // The restarted server: a socket that says the model is loading.
        js("if (!window.__realWebSocket) window.__realWebSocket = window.WebSocket; window.__fakes = [];"
                + "window.WebSocket = class { constructor() { this.readyState = 0; window.__fakes.push(this);"
                + "  setTimeout(() => { this.readyState = 1; this.onopen(); this.onmessage({ data: JSON.stringify({ type: 'status', state: 'LOADING',"
                + "  stage: 'LOAD_WEIGHTS', percent: 40, stages: [], model: null, demo: true }) }); }, 50); }"
                + "  send() {} close() { if (this.readyState === 3) return; this.readyState = 3; this.onclose(); } };");
        js("QwenChat.dropConnection()");
        wait.until(d -> el("connection-banner").getText().contains("reloading the model"));
        assertThat(el("connection-banner").getText()).endsWith("40%");
        assertThat(el("app").isDisplayed()).isTrue();
        assertThat(el("loading-screen").isDisplayed()).isFalse();
        assertThat(messages("user").size() + messages("assistant").size()).isEqualTo(shown);

        setMaxTokens(3);
        sendMessage("Sent during the reload");
        wait.until(d -> messages("user").get(messages("user").size() - 1).getText().contains("Waiting for connection…"));
        shot("reloading.png");

        js("window.WebSocket = window.__realWebSocket; window.__fakes.forEach(f => f.close());");
        wait.until(d -> !el("connection-banner").isDisplayed());
        waitUntilIdle();
        wait.until(d -> messages("assistant").size() == messages("user").size());
        assertThat(lastStats()).startsWith("3 tokens");
    }

    @Test
    @Order(19)
    void aMessageThatCannotFitTheContextIsRefusedInThePageInItsLanguageAndNotSaved() throws Exception {
        el("new-chat").click();
        el("lang-switch").click();
        try {
            long completed = scheduler.stats().completed();
            int context = runtime.served().orElseThrow().contextLength();
            // Digits are one token each with Qwen's tokenizer: comfortably over the context.
            String huge = "0123456789".repeat(context / 10 + 50);
            js("const i = document.getElementById('input'); i.value = arguments[0]; i.dispatchEvent(new Event('input'));", huge);
            el("send-btn").click();
            wait.until(d -> !d.findElements(By.cssSelector("#messages .msg.note")).isEmpty());
            String note = driver.findElement(By.cssSelector("#messages .msg.note")).getText();
            assertThat(note).startsWith("这条消息放不下").contains(String.valueOf(context));
            assertThat(messages("user")).isEmpty();
            assertThat(el("input").getAttribute("value")).isEqualTo(huge);
            assertThat(js("return Store.conversations().some(c => c.messages.some(m => m.content.startsWith('0123456789')))")).isEqualTo(false);
            assertThat(scheduler.stats().completed()).isEqualTo(completed);
        } finally {
            js("document.getElementById('input').value = ''");
            el("lang-switch").click();
        }
    }

    @Test
    @Order(20)
    void serverErrorsAreShownInTheLanguageOfThePage() throws Exception {
        // A chat imported with a setting outside what the server accepts.
        Path file = Files.createTempFile("hot", ".json");
        Files.writeString(file, "{\"conversations\":[{\"id\":\"hot\",\"title\":\"Too hot\",\"settings\":{\"temperature\":9},"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"hello\"}]}]}");
        el("import-conversations").sendKeys(file.toAbsolutePath().toString());
        wait.until(d -> d.findElements(By.cssSelector("#conv-list .conv.active[data-id='hot']")).size() == 1);
        el("lang-switch").click();
        try {
            sendMessage("你好");
            wait.until(d -> !d.findElements(By.cssSelector("#messages .msg.note")).isEmpty());
            WebElement note = driver.findElement(By.cssSelector("#messages .msg.note"));
            assertThat(note.getText()).isEqualTo("服务器认为请求无效。");
            // The server's own words stay available for a bug report.
            assertThat(note.getAttribute("title")).contains("temperature");
            assertThat(note.getAttribute("role")).isEqualTo("alert");
        } finally {
            el("lang-switch").click();
        }
    }

    @Test
    @Order(21)
    void escapeStopsAReplyAndFocusReturnsToTheInput() throws Exception {
        el("new-chat").click();
        setMaxTokens(3000);
        sendMessage("Another long story please");
        wait.until(d -> el("stop-btn").isDisplayed() && !messages("assistant").get(0).getText().isBlank());
        el("stop-btn").sendKeys(Keys.ESCAPE);
        waitUntilIdle();
        assertThat(lastStats()).endsWith("stopped");
        assertThat(js("return document.activeElement.id")).isEqualTo("input");

        // And after the Stop button itself, the keyboard continues in the input.
        sendMessage("One more");
        wait.until(d -> el("stop-btn").isDisplayed() && !messages("assistant").get(1).getText().isBlank());
        el("stop-btn").sendKeys(Keys.ENTER);
        waitUntilIdle();
        assertThat(js("return document.activeElement.id")).isEqualTo("input");
        setMaxTokens(8);
    }

    @SuppressWarnings("unchecked")
    @Test
    @Order(22)
    void everyControlIsReachableByTabWithAnAccessibleName() throws Exception {
        driver.findElement(By.tagName("body")).click();
        js("document.activeElement.blur()");
        List<Map<String, Object>> stops = new java.util.ArrayList<>();
        for (int i = 0; i < 80; i++) {
            driver.switchTo().activeElement().sendKeys(Keys.TAB);
            stops.add((Map<String, Object>) js("const e = document.activeElement; const labels = e.labels ? [...e.labels].map(l => l.textContent).join(' ') : '';"
                    + "return {id: e.id, cls: e.className, tag: e.tagName, name: (e.getAttribute('aria-label') || labels || e.textContent || e.title || '').trim()};"));
        }
        assertThat(stops).allSatisfy(s -> assertThat((String) s.get("name")).as("accessible name of %s", s).isNotBlank());
        assertThat(stops).extracting(s -> s.get("id")).contains("new-chat", "export-conversations", "import-button", "manage-presets",
                "preset-select", "open-settings", "theme-switch", "lang-switch", "input", "send-btn");
        assertThat(stops).extracting(s -> String.valueOf(s.get("cls"))).contains("conv-title", "conv-delete");
        assertThat(stops).filteredOn(s -> "conv-delete".equals(s.get("cls")))
                .allSatisfy(s -> assertThat((String) s.get("name")).startsWith("Delete conversation: "));
        assertThat(js("return document.getElementById('input').labels[0].textContent")).isEqualTo("Message");
    }

    @Test
    @Order(23)
    void axeFindsNoSeriousOrCriticalViolationsOnTheChatPage() throws Exception {
        openConversationTitled("XSS check");
        wait.until(d -> messages("assistant").size() == 1);
        assertThat(Accessibility.seriousViolations(driver)).isEmpty();
        el("open-settings").click();
        el("manage-presets").click();
        assertThat(Accessibility.seriousViolations(driver)).isEmpty();
        el("pf-close").click();
        el("close-settings").click();
    }

    @Test
    @Order(24)
    void darkModeFollowsTheSystemAndHasAToggle() throws Exception {
        js("localStorage.removeItem('qwenchat.theme')");
        driver.executeCdpCommand("Emulation.setEmulatedMedia", Map.of("features", List.of(Map.of("name", "prefers-color-scheme", "value", "dark"))));
        try {
            wait.until(d -> "dark".equals(js("return document.documentElement.dataset.theme")));
            assertThat(js("return getComputedStyle(document.body).backgroundColor")).isEqualTo("rgb(17, 19, 24)");
            assertThat(el("theme-switch").getAttribute("aria-pressed")).isEqualTo("true");
            openConversationTitled("XSS check");
            wait.until(d -> messages("assistant").size() == 1);
            assertThat(Accessibility.seriousViolations(driver)).isEmpty();
            shot("chat-dark.png");

            // The toggle overrides the system and is remembered across a reload.
            el("theme-switch").click();
            assertThat(js("return document.documentElement.dataset.theme")).isEqualTo("light");
            driver.navigate().refresh();
            wait.until(d -> el("app").isDisplayed());
            assertThat(js("return document.documentElement.dataset.theme")).isEqualTo("light");
            assertThat(js("return getComputedStyle(document.body).backgroundColor")).isEqualTo("rgb(247, 247, 248)");
            el("theme-switch").click();
            assertThat(js("return document.documentElement.dataset.theme")).isEqualTo("dark");
        } finally {
            js("localStorage.removeItem('qwenchat.theme')");
            driver.executeCdpCommand("Emulation.setEmulatedMedia", Map.of("features", List.of()));
        }
        wait.until(d -> "light".equals(js("return document.documentElement.dataset.theme")));
    }

    private String versionLabel(WebElement msg) {
        return msg.findElement(By.cssSelector(".versions .version-label")).getText();
    }

    private WebElement lastMessage(String role) {
        List<WebElement> list = messages(role);
        return list.get(list.size() - 1);
    }

    @Test
    @Order(25)
    void regenerateKeepsEarlierRepliesAsVariantsAndEditingStartsABranch() throws Exception {
        el("new-chat").click();
        setMaxTokens(4);
        sendMessage("Variant me");
        waitUntilIdle();
        assertThat(messages("assistant").get(0).findElements(By.cssSelector(".versions"))).isEmpty();
        setMaxTokens(5);
        el("regenerate").click();
        waitUntilIdle();
        setMaxTokens(6);
        el("regenerate").click();
        waitUntilIdle();
        assertThat(messages("assistant")).hasSize(1);
        assertThat(versionLabel(lastMessage("assistant"))).isEqualTo("3/3");
        assertThat(lastStats()).startsWith("6 tokens");
        lastMessage("assistant").findElement(By.cssSelector(".prev-version")).click();
        wait.until(d -> versionLabel(lastMessage("assistant")).equals("2/3"));
        assertThat(lastStats()).startsWith("5 tokens");
        // Focus stays on the arrow, so a keyboard user can keep stepping.
        assertThat(js("return document.activeElement.className")).isEqualTo("prev-version");
        driver.switchTo().activeElement().sendKeys(Keys.ENTER);
        wait.until(d -> versionLabel(lastMessage("assistant")).equals("1/3"));
        assertThat(lastStats()).startsWith("4 tokens");
        assertThat(lastMessage("assistant").findElement(By.cssSelector(".prev-version")).isEnabled()).isFalse();
        shot("variants.png");

        // Editing the question starts a branch; the first branch and its replies stay.
        messages("user").get(0).findElement(By.cssSelector(".edit-msg")).click();
        WebElement box = driver.findElement(By.cssSelector("#messages .edit-box"));
        box.clear();
        box.sendKeys("Branch B");
        driver.findElement(By.cssSelector("#messages .save-edit")).click();
        waitUntilIdle();
        assertThat(messages("user")).hasSize(1);
        assertThat(versionLabel(messages("user").get(0))).isEqualTo("2/2");
        assertThat(messages("user").get(0).findElement(By.cssSelector(".content")).getText()).isEqualTo("Branch B");
        assertThat(lastMessage("assistant").findElements(By.cssSelector(".versions"))).isEmpty();
        messages("user").get(0).findElement(By.cssSelector(".prev-version")).click();
        wait.until(d -> messages("user").get(0).findElement(By.cssSelector(".content")).getText().equals("Variant me"));
        assertThat(versionLabel(lastMessage("assistant"))).isEqualTo("1/3");
        assertThat(lastStats()).startsWith("4 tokens");

        // Both branches and every variant survive an export and import.
        String id = (String) js("return localStorage.getItem('qwenchat.current')");
        String exported = (String) js("return Store.exportJson()");
        Path file = Files.createTempFile("branches", ".json");
        Files.writeString(file, exported);
        js("Store.remove(arguments[0])", id);
        el("new-chat").click();
        el("import-conversations").sendKeys(file.toAbsolutePath().toString());
        wait.until(d -> d.findElements(By.cssSelector("#conv-list .conv.active[data-id='" + id + "']")).size() == 1);
        wait.until(d -> messages("user").size() == 1);
        assertThat(versionLabel(messages("user").get(0))).isEqualTo("1/2");
        assertThat(versionLabel(lastMessage("assistant"))).isEqualTo("1/3");
        lastMessage("assistant").findElement(By.cssSelector(".next-version")).click();
        wait.until(d -> versionLabel(lastMessage("assistant")).equals("2/3"));
        assertThat(lastStats()).startsWith("5 tokens");
        messages("user").get(0).findElement(By.cssSelector(".next-version")).click();
        wait.until(d -> messages("user").get(0).findElement(By.cssSelector(".content")).getText().equals("Branch B"));
        assertThat(lastStats()).startsWith("6 tokens");
    }

    @Test
    @Order(26)
    void everyMessageCanBeCopiedAndDeleted() throws Exception {
        driver.executeCdpCommand("Browser.grantPermissions", Map.of("origin", "http://localhost:" + port,
                "permissions", List.of("clipboardReadWrite", "clipboardSanitizedWrite")));
        assertThat(driver.findElements(By.cssSelector("#messages .msg.user .copy-msg, #messages .msg.assistant:not(.greeting) .copy-msg"))).hasSize(2);
        String reply = (String) js("return Store.conversations().find(c => c.id === localStorage.getItem('qwenchat.current')).messages[1].content");
        lastMessage("assistant").findElement(By.cssSelector(".copy-msg")).click();
        new WebDriverWait(driver, Duration.ofSeconds(5), Duration.ofMillis(20)).until(d -> lastMessage("assistant").findElement(By.cssSelector(".copy-msg")).getText().equals("Copied"));
        assertThat(driver.executeAsyncScript("const done = arguments[arguments.length - 1]; navigator.clipboard.readText().then(done, e => done(String(e)));"))
                .isEqualTo(reply);

        lastMessage("assistant").findElement(By.cssSelector(".delete-msg")).click();
        wait.until(d -> messages("assistant").isEmpty());
        assertThat(messages("user")).hasSize(1);
        assertThat(js("return Store.conversations().find(c => c.id === localStorage.getItem('qwenchat.current')).messages.length")).isEqualTo(1L);
    }

    @Test
    @Order(27)
    void codeNamesItsLanguageTablesAndQuotesAreStyledAndMathRendersWithoutLoosingSanitising() throws Exception {
        String reply = String.join("\n",
                "Pythagoras: $a^2+b^2=c^2$ and Euler: \\(e^{i\\pi}+1=0\\).",
                "",
                "$$\\int_0^1 x^2\\,dx = \\frac{1}{3}$$",
                "",
                "\\[\\sum_{n=1}^{\\infty} \\frac{1}{n^2} = \\frac{\\pi^2}{6}\\]",
                "",
                "It costs $5 and $10. Code keeps its dollars: `$notmath$`.",
                "",
                "Tricks: $\\href{javascript:window.__xss='math'}{click}$ and $<img src=x onerror=\"window.__xss='mathimg'\">$",
                "",
                "| x | x² |", "|---|----|", "| 1 | 1 |", "| 2 | 4 |",
                "",
                "> A quoted line.",
                "",
                "```python", "print('$x$')", "```");
        String file = JSON.writeValueAsString(Map.of("conversations", List.of(Map.of("id", "math", "title", "Math and tables",
                "presetId", "general", "updatedAt", 3, "messages", List.of(Map.of("role", "user", "content", "Show me"),
                        Map.of("role", "assistant", "content", reply))))));
        Path path = Files.createTempFile("math", ".json");
        Files.writeString(path, file);
        el("import-conversations").sendKeys(path.toAbsolutePath().toString());
        wait.until(d -> d.findElements(By.cssSelector("#conv-list .conv.active[data-id='math']")).size() == 1);
        WebElement msg = lastMessage("assistant");
        assertThat(msg.findElements(By.cssSelector("math"))).hasSizeGreaterThanOrEqualTo(4);
        assertThat(msg.findElements(By.cssSelector("math[display='block']"))).hasSize(2);
        assertThat(js("return [...arguments[0].querySelectorAll('annotation')].map(a => a.textContent)", msg))
                .asString().contains("a^2+b^2=c^2", "e^{i\\pi}+1=0", "\\int_0^1 x^2\\,dx = \\frac{1}{3}", "\\sum_{n=1}^{\\infty}");
        assertThat(msg.getText()).contains("It costs $5 and $10.");
        assertThat(msg.findElement(By.cssSelector("p code")).getText()).isEqualTo("$notmath$");
        // Math goes through DOMPurify like everything else.
        Thread.sleep(200);
        assertThat(js("return window.__xss === undefined")).isEqualTo(true);
        assertThat(driver.findElements(By.cssSelector("#messages a[href^='javascript'], #messages [onerror]"))).isEmpty();

        assertThat(msg.findElement(By.cssSelector("pre .code-lang")).getText()).isEqualTo("python");
        assertThat(msg.findElement(By.cssSelector("pre code")).getText()).contains("print('$x$')");
        assertThat(js("return getComputedStyle(arguments[0].querySelector('td')).borderTopStyle", msg)).isEqualTo("solid");
        assertThat(js("return getComputedStyle(arguments[0].querySelector('blockquote')).borderLeftWidth", msg)).isEqualTo("4px");
        assertThat(Accessibility.seriousViolations(driver)).isEmpty();
        shot("markdown.png");
    }

    private void typeSetting(String field, String value) {
        WebElement input = el("set-" + field);
        input.clear();
        input.sendKeys(value, Keys.TAB);
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> storedSettings() {
        return (Map<String, Object>) js("const c = Store.conversations().find(c => c.id === localStorage.getItem('qwenchat.current')); return (c && c.settings) || {};");
    }

    @Test
    @Order(28)
    void eachChatHasItsOwnSystemPromptAndSamplingValidatedWithTheServersLimits() throws Exception {
        js("sessionStorage.removeItem('qwenchat.adminToken')");
        el("new-chat").click();
        new Select(el("preset-select")).selectByValue("general");
        el("open-settings").click();
        // The preset is the template: its values are the placeholders.
        assertThat(el("set-systemPrompt").getAttribute("placeholder")).isEqualTo(presets.get("general").systemPrompt());
        typeSetting("temperature", "3");
        assertThat(el("set-temperature-error").getText()).isEqualTo("Temperature must be between 0 and 2.");
        assertThat(el("set-temperature").getAttribute("aria-invalid")).isEqualTo("true");
        typeSetting("topP", "0");
        assertThat(el("set-topP-error").getText()).isEqualTo("Top-p must be more than 0 and at most 1.");
        typeSetting("topK", "2.5");
        assertThat(el("set-topK-error").isDisplayed()).isTrue();
        shot("settings-invalid.png");
        typeSetting("temperature", "0.4");
        typeSetting("topP", "0.9");
        typeSetting("topK", "20");
        typeSetting("maxTokens", "7");
        assertThat(driver.findElements(By.cssSelector("#settings-panel .field-error:not([hidden])"))).isEmpty();
        el("set-systemPrompt").sendKeys("You are terse.", Keys.TAB);
        ServedModel model = runtime.served().orElseThrow();
        int withPrompt = model.chatTemplate().render(List.of(new ChatMessage("system", "You are terse.")), true).ids().length;
        wait.until(d -> el("context-used").getText().equals(String.valueOf(withPrompt)));
        el("close-settings").click();
        sendMessage("Settings check");
        waitUntilIdle();
        assertThat(lastStats()).startsWith("7 tokens");
        assertThat(storedSettings()).containsEntry("systemPrompt", "You are terse.").containsEntry("temperature", 0.4)
                .containsEntry("topK", 20L).containsEntry("maxTokens", 7L);
        String first = (String) js("return localStorage.getItem('qwenchat.current')");

        // Another chat starts from the preset again; going back finds this chat's settings.
        el("new-chat").click();
        el("open-settings").click();
        assertThat(el("set-systemPrompt").getAttribute("value")).isEmpty();
        assertThat(el("set-maxTokens").getAttribute("value")).isEmpty();
        el("close-settings").click();
        driver.findElement(By.cssSelector("#conv-list .conv[data-id='" + first + "'] .conv-title")).click();
        el("open-settings").click();
        assertThat(el("set-systemPrompt").getAttribute("value")).isEqualTo("You are terse.");
        assertThat(el("set-maxTokens").getAttribute("value")).isEqualTo("7");
        el("close-settings").click();
        // None of this asked for the admin token.
        assertThat(el("pf-auth").isDisplayed()).isFalse();
    }

    @Test
    @Order(29)
    void savingAPresetAsksForTheAdminTokenOnceWhereItIsSeenAndConfirmsTheSave() throws Exception {
        js("sessionStorage.removeItem('qwenchat.adminToken')");
        el("manage-presets").click();
        el("pf-new").click();
        el("pf-id").sendKeys("terse");
        el("pf-name-en").sendKeys("Terse");
        el("pf-save").click();
        wait.until(d -> el("pf-auth").isDisplayed());
        assertThat(el("pf-error").getText()).isEqualTo("Changing presets needs the admin token: enter it below and save again.");
        String dialogText = el("preset-dialog").getText();
        assertThat(dialogText.split("needs the admin token", -1)).hasSize(2);
        assertThat(js("return document.activeElement.id")).isEqualTo("pf-token");
        // Both the message and the field are inside the visible part of the dialog.
        for (String id : List.of("pf-error", "pf-token")) {
            assertThat(js("const d = document.getElementById('preset-dialog').getBoundingClientRect(), r = document.getElementById(arguments[0]).getBoundingClientRect();"
                    + "return r.top >= d.top && r.bottom <= Math.min(d.bottom, window.innerHeight)", id)).as(id).isEqualTo(true);
        }
        shot("preset-token.png");
        el("pf-token").sendKeys(ADMIN_TOKEN);
        // A refusal from the server comes in the page's language too.
        el("pf-topP").sendKeys("5");
        js("I18N.set('zh')");
        el("pf-save").click();
        wait.until(d -> el("pf-error").getText().equals("“sampling.topP”的值不被接受。"));
        js("I18N.set('en')");
        el("pf-topP").clear();
        el("pf-save").click();
        wait.until(d -> el("pf-status").isDisplayed());
        assertThat(el("pf-status").getText()).isEqualTo("Saved “Terse”.");
        assertThat(el("pf-error").isDisplayed()).isFalse();
        assertThat(presets.find("terse")).isPresent();
        el("pf-close").click();
    }

    @SuppressWarnings("unchecked")
    private List<String> listedGroupsAndTitles() {
        return (List<String>) js("return [...document.querySelectorAll('#conv-list > li')].map(li => li.classList.contains('conv-group') ? '# ' + li.textContent : li.querySelector('.conv-title').textContent)");
    }

    @Test
    @Order(30)
    void historyCanBeRenamedSearchedPinnedAndIsGroupedByDate() throws Exception {
        long now = System.currentTimeMillis();
        long day = 24 * 3600 * 1000L;
        // The browser's own midnight: "Yesterday" is a local calendar day.
        long lastMinuteOfYesterday = ((Number) js("return new Date().setHours(0, 0, 0, 0) - 60000")).longValue();
        Path file = Files.createTempFile("history", ".json");
        Files.writeString(file, "{\"conversations\":["
                + "{\"id\":\"h-yesterday\",\"title\":\"Tax questions\",\"updatedAt\":" + lastMinuteOfYesterday + ",\"messages\":[{\"role\":\"user\",\"content\":\"What is a marginal rate?\"}]},"
                + "{\"id\":\"h-week\",\"title\":\"Garden plans\",\"updatedAt\":" + (now - 4 * day) + ",\"messages\":[{\"role\":\"user\",\"content\":\"When to plant zucchini\"}]},"
                + "{\"id\":\"h-old\",\"title\":\"Old trip\",\"updatedAt\":" + (now - 40 * day) + ",\"messages\":[{\"role\":\"user\",\"content\":\"Kyoto in autumn\"}]}]}");
        el("import-conversations").sendKeys(file.toAbsolutePath().toString());
        wait.until(d -> listedConversationIds().contains("h-old"));
        List<String> listed = listedGroupsAndTitles();
        assertThat(listed).containsSubsequence("# Today", "# Yesterday", "Tax questions", "# Previous 7 days", "Garden plans", "# Older", "Old trip");

        // Importing the same file again adds nothing.
        int count = storedConversationIds().size();
        el("import-conversations").sendKeys(file.toAbsolutePath().toString());
        wait.until(d -> "h-yesterday".equals(js("return localStorage.getItem('qwenchat.current')")));
        assertThat(storedConversationIds()).hasSize(count);

        // Search looks at titles and at what was said.
        el("conv-search").sendKeys("zucchini");
        wait.until(d -> listedConversationIds().equals(List.of("h-week")));
        el("conv-search").clear();
        el("conv-search").sendKeys("TAX");
        wait.until(d -> listedConversationIds().equals(List.of("h-yesterday")));
        el("conv-search").clear();
        el("conv-search").sendKeys("nothing like this");
        wait.until(d -> listedConversationIds().isEmpty());
        assertThat(el("conv-list").getText()).isEqualTo("No chats match.");
        el("conv-search").clear();
        js("document.getElementById('conv-search').dispatchEvent(new Event('input'))");
        wait.until(d -> listedConversationIds().size() == count);

        // Pinning puts a chat first, without changing when it was last used.
        driver.findElement(By.cssSelector("#conv-list .conv[data-id='h-old'] .conv-pin")).click();
        wait.until(d -> listedGroupsAndTitles().subList(0, 2).equals(List.of("# Pinned", "Old trip")));
        assertThat(driver.findElement(By.cssSelector("#conv-list .conv[data-id='h-old'] .conv-pin")).getAttribute("aria-pressed")).isEqualTo("true");
        assertThat(js("return Store.conversations().find(c => c.id === 'h-old').updatedAt")).isEqualTo(now - 40 * day);

        // Rename in place: Enter keeps it, and it survives a reload.
        driver.findElement(By.cssSelector("#conv-list .conv[data-id='h-week'] .conv-rename")).click();
        WebElement rename = driver.findElement(By.cssSelector("#conv-list .conv-rename-input"));
        rename.sendKeys(Keys.chord(Keys.CONTROL, "a"), "Vegetable garden", Keys.ENTER);
        wait.until(d -> driver.findElement(By.cssSelector("#conv-list .conv[data-id='h-week'] .conv-title")).getText().equals("Vegetable garden"));
        driver.findElement(By.cssSelector("#conv-list .conv[data-id='h-week'] .conv-rename")).click();
        driver.findElement(By.cssSelector("#conv-list .conv-rename-input")).sendKeys("nope", Keys.ESCAPE);
        wait.until(d -> driver.findElements(By.cssSelector("#conv-list .conv-rename-input")).isEmpty());
        driver.navigate().refresh();
        wait.until(d -> el("app").isDisplayed());
        wait.until(d -> listedGroupsAndTitles().size() > 2);
        assertThat(listedGroupsAndTitles()).startsWith("# Pinned", "Old trip").contains("Vegetable garden").doesNotContain("Garden plans");
        shot("history.png");
    }

    @Test
    @Order(31)
    void oneConversationExportsAsMarkdownOrJson() throws Exception {
        openConversationTitled("Math and tables");
        wait.until(d -> "math".equals(js("return localStorage.getItem('qwenchat.current')")));
        el("export-markdown").click();
        Path md = awaitDownload("Math and tables.md");
        String text = Files.readString(md);
        assertThat(text).startsWith("# Math and tables\n").contains("**You**\n\nShow me").contains("**Assistant**\n\nPythagoras: $a^2+b^2=c^2$");
        el("export-json").click();
        Path json = awaitDownload("Math and tables.json");
        JsonNode file = JSON.readTree(json.toFile());
        assertThat(file.get("conversations")).hasSize(1);
        assertThat(file.get("conversations").get(0).get("id").asString()).isEqualTo("math");
        // Importing it back adds nothing: it is the same conversation.
        int count = storedConversationIds().size();
        el("import-conversations").sendKeys(json.toAbsolutePath().toString());
        Thread.sleep(300);
        assertThat(storedConversationIds()).hasSize(count);
    }

    @Test
    @Order(32)
    void attachedTextFilesCountInTheContextAndStayWithTheMessageAndItsExport() throws Exception {
        el("new-chat").click();
        new Select(el("preset-select")).selectByValue("general");
        setMaxTokens(4);
        String notes = "name,score\nada,3\ngrace,5\n";
        Path dir = Files.createTempDirectory("attach");
        Path csv = Files.writeString(dir.resolve("scores.csv"), notes);
        ServedModel model = runtime.served().orElseThrow();
        String system = presets.get("general").systemPrompt();
        int empty = model.chatTemplate().render(List.of(new ChatMessage("system", system)), true).ids().length;
        wait.until(d -> el("context-used").getText().equals(String.valueOf(empty)));

        el("attach-input").sendKeys(csv.toAbsolutePath().toString());
        wait.until(d -> el("attachments").getText().contains("scores.csv"));
        // The meter counts the file as part of the message about to be sent.
        String wire = "File: scores.csv\n````\n" + notes + "\n````";
        int withFile = model.chatTemplate().render(List.of(new ChatMessage("system", system), new ChatMessage("user", wire)), true).ids().length;
        wait.until(d -> el("context-used").getText().equals(String.valueOf(withFile)));
        assertThat(driver.findElement(By.cssSelector("#attachments .remove-file")).getAttribute("aria-label")).isEqualTo("Remove file: scores.csv");

        // A binary file is refused with a reason.
        Path bin = Files.write(dir.resolve("image.png"), new byte[] {(byte) 0x89, 'P', 'N', 'G', 0, 0, 0, 13});
        el("attach-input").sendKeys(bin.toAbsolutePath().toString());
        wait.until(d -> !d.findElements(By.cssSelector("#messages .msg.note")).isEmpty());
        assertThat(driver.findElement(By.cssSelector("#messages .msg.note")).getText()).isEqualTo("“image.png” is not a text file, so it was not attached.");
        assertThat(driver.findElements(By.cssSelector("#attachments .file-chip"))).hasSize(1);

        sendMessage("Who scored best?");
        waitUntilIdle();
        WebElement user = messages("user").get(0);
        assertThat(user.findElement(By.cssSelector(".msg-file summary")).getText()).isEqualTo("📎 scores.csv");
        assertThat(el("attachments").isDisplayed()).isFalse();
        int conversation = Integer.parseInt(el("context-used").getText());
        assertThat(conversation).isGreaterThan(withFile);
        String id = (String) js("return localStorage.getItem('qwenchat.current')");

        JsonNode exported = JSON.readTree((String) js("return Store.exportJson()"));
        JsonNode message = conversation(exported, id).get("messages").get(0);
        assertThat(message.get("content").asString()).isEqualTo("Who scored best?");
        assertThat(message.get("attachments").get(0).get("name").asString()).isEqualTo("scores.csv");
        assertThat(message.get("attachments").get(0).get("text").asString()).isEqualTo(notes);
        driver.navigate().refresh();
        wait.until(d -> el("app").isDisplayed() && messages("user").size() == 1);
        messages("user").get(0).findElement(By.cssSelector(".msg-file summary")).click();
        assertThat(messages("user").get(0).findElement(By.cssSelector(".msg-file pre")).getText()).contains("grace,5");
        shot("attachment.png");
    }

    @Test
    @Order(33)
    void aPdfIsAttachedAsItsTextReadOnTheServer() throws Exception {
        el("new-chat").click();
        setMaxTokens(3);
        Path dir = Files.createTempDirectory("pdf");
        Path pdf = dir.resolve("report.pdf");
        try (var doc = new org.apache.pdfbox.pdmodel.PDDocument()) {
            var page = new org.apache.pdfbox.pdmodel.PDPage();
            doc.addPage(page);
            try (var text = new org.apache.pdfbox.pdmodel.PDPageContentStream(doc, page)) {
                text.beginText();
                text.setFont(new org.apache.pdfbox.pdmodel.font.PDType1Font(org.apache.pdfbox.pdmodel.font.Standard14Fonts.FontName.HELVETICA), 12);
                text.newLineAtOffset(72, 700);
                text.showText("Quarterly revenue grew 12 percent.");
                text.endText();
            }
            doc.save(pdf.toFile());
        }
        Path broken = Files.writeString(dir.resolve("broken.pdf"), "%PDF-1.7 this is not really a PDF");

        el("attach-input").sendKeys(broken.toAbsolutePath().toString());
        wait.until(d -> !d.findElements(By.cssSelector("#messages .msg.note")).isEmpty());
        assertThat(driver.findElement(By.cssSelector("#messages .msg.note")).getText()).isEqualTo("“broken.pdf” is not a readable PDF.");
        el("attach-input").sendKeys(pdf.toAbsolutePath().toString());
        wait.until(d -> el("attachments").getText().contains("report.pdf"));
        sendMessage("Summarise the report");
        waitUntilIdle();
        messages("user").get(0).findElement(By.cssSelector(".msg-file summary")).click();
        assertThat(messages("user").get(0).findElement(By.cssSelector(".msg-file pre")).getText()).isEqualTo("Quarterly revenue grew 12 percent.");
        assertThat(js("return Store.conversations().find(c => c.id === localStorage.getItem('qwenchat.current')).messages[0].attachments[0].name"))
                .isEqualTo("report.pdf");

        // The endpoint answers a non-PDF with a code the page translates, never PDFBox's own words.
        HttpResponse<String> refused = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/api/files/pdf-text"))
                .header("Content-Type", "application/pdf").POST(HttpRequest.BodyPublishers.ofString("hello")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(refused.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(refused.body()).get("error").get("code").asString()).isEqualTo("not_a_pdf");
    }
}
