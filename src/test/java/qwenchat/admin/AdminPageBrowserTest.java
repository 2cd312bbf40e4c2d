package qwenchat.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.openqa.selenium.By;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.WebDriverWait;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import qwenchat.serving.LoadWait;
import qwenchat.serving.Http;
import qwenchat.serving.ModelRuntime;
import qwenchat.web.Accessibility;
import qwenchat.web.HeadlessChromium;

/**
 * The dashboard in headless chromium against the real app on the demo checkpoint: sign-in, the
 * model card, and charts that move after chats. The screenshot lands in target/screenshots/admin.png.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "qwen.demo-dir=target/qwen-chat-demo", "qwen.cpu-threads=2", "qwen.kv-max-sequences=4",
        "qwen.admin.token=" + AdminPageBrowserTest.TOKEN})
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AdminPageBrowserTest {

    static final String TOKEN = "dashboard-Token-42";

    @DynamicPropertySource
    static void dataDir(DynamicPropertyRegistry r) throws Exception {
        String dir = Files.createTempDirectory("qwen-admin-browser").toString();
        r.add("qwen.data-dir", () -> dir);
    }

    @LocalServerPort
    int port;
    @Autowired
    ModelRuntime runtime;

    Browser browser;

    /** The shared headless chromium with the few helpers this test uses. */
    record Browser(ChromeDriver driver, WebDriverWait waiter) {
        Object js(String script, Object... args) {
            return driver.executeScript(script, args);
        }

        WebElement el(String id) {
            return driver.findElement(By.id(id));
        }

        Path shot(String name) throws Exception {
            HeadlessChromium.screenshot(driver, name);
            return HeadlessChromium.SHOTS.resolve(name);
        }
    }

    @BeforeAll
    void start() throws Exception {
        ChromeDriver driver = HeadlessChromium.start();
        // The dashboard re-renders its cards on every live update, so an element found a moment ago can go stale.
        WebDriverWait waiter = new WebDriverWait(driver, Duration.ofSeconds(60));
        waiter.ignoring(StaleElementReferenceException.class);
        browser = new Browser(driver, waiter);
        LoadWait.ready(runtime);
    }

    @AfterAll
    void stop() {
        if (browser != null) browser.driver().quit();
    }

    private WebElement el(String id) {
        return browser.el(id);
    }

    /** An element's visible text, read in one script call (see {@link #prop}). */
    private String text(String id) {
        Object t = browser.js("const e = document.getElementById(arguments[0]); return e ? e.innerText : null;", id);
        return t == null ? "" : t.toString().trim();
    }

    /** One value of a card, read in a single script call so a live re-render cannot leave it stale. */
    private String prop(String dl, String key) {
        Object text = browser.js("const e = document.querySelector(arguments[0]); return e ? e.innerText : null;",
                "#" + dl + " dd[data-key='" + key + "']");
        return text == null ? "" : text.toString().trim();
    }

    private void chat(int maxTokens) {
        Http.Reply r = new Http(port).post("/v1/chat/completions", "application/json",
                "{\"model\":\"qwen\",\"messages\":[{\"role\":\"user\",\"content\":\"How busy are you?\"}],\"max_tokens\":"
                        + maxTokens + "}");
        assertThat(r.status()).as(r.body()).isEqualTo(200);
    }

    @Test
    @Order(1)
    void signInRefusesAWrongTokenAndAcceptsTheRightOne() {
        browser.driver().get("http://localhost:" + port + "/admin");
        browser.waiter().until(d -> el("login").isDisplayed());
        assertThat(el("dashboard").isDisplayed()).isFalse();
        el("token").sendKeys(TOKEN.toLowerCase());
        el("login-btn").click();
        browser.waiter().until(d -> el("login-error").isDisplayed());
        assertThat(text("login-error")).isEqualTo("incorrect admin token");
        assertThat(browser.js("return sessionStorage.getItem('qwenchat.adminToken')")).isNull();

        el("token").sendKeys(TOKEN);
        el("login-btn").click();
        browser.waiter().until(d -> el("dashboard").isDisplayed());
        assertThat(browser.js("return sessionStorage.getItem('qwenchat.adminToken')")).isEqualTo(TOKEN);
    }

    @Test
    @Order(2)
    void modelCardEngineAndTimelineDescribeTheDemoModel() {
        var config = runtime.served().orElseThrow().config();
        browser.waiter().until(d -> !text("model-kv").isBlank());
        assertThat(prop("model-kv", "Name")).isEqualTo("demo weights (random)");
        assertThat(el("demo-badge").isDisplayed()).isTrue();
        assertThat(prop("model-kv", "Layers")).isEqualTo(String.valueOf(config.numHiddenLayers()));
        assertThat(prop("model-kv", "Heads / KV heads"))
                .isEqualTo(config.numAttentionHeads() + " / " + config.numKeyValueHeads());
        assertThat(prop("model-kv", "Embeddings")).isEqualTo(config.tieWordEmbeddings() ? "tied" : "untied");
        browser.waiter().until(d -> prop("model-kv", "q/k/v bias").equals("present"));
        // The bias chart has one point per layer for q, k and v.
        browser.waiter().until(d -> browser.driver().findElements(By.cssSelector("#chart-bias canvas")).size() == 1);
        assertThat(prop("engine-kv", "Engine")).isEqualTo("cpu");
        assertThat(prop("engine-kv", "KV capacity")).startsWith("4 sequences");
        assertThat(prop("engine-kv", "Prefix cache")).matches("no prompt looked up yet|[0-9.]+% hit rate: .*");
        assertThat(browser.driver().findElements(By.cssSelector("#timeline li"))).hasSize(5);
        assertThat(text("health-badge")).isEqualTo("healthy");
        assertThat(text("h-liveness")).startsWith("CORRECT");
        assertThat(text("stream-state")).isEqualTo("live");
    }

    @Test
    @Order(3)
    void chartsMoveAfterChats() throws Exception {
        Object before = browser.js("return AdminDashboard.series.decode.filter(v => v > 0).length");
        assertThat(((Number) before).intValue()).isZero();
        long completed = Long.parseLong(el("h-totals").getAttribute("data-completed"));
        for (int i = 0; i < 3; i++) chat(40);
        browser.waiter().until(d -> Long.parseLong(el("h-totals").getAttribute("data-completed")) >= completed + 3);
        browser.waiter().until(d -> ((Number) browser.js("return AdminDashboard.series.decode.filter(v => v > 0).length")).intValue() > 0);
        browser.waiter().until(d -> ((Number) browser.js("return AdminDashboard.series.ttft50.filter(v => v != null).length")).intValue() > 0);
        double ttft = ((Number) browser.js("return Math.max(...AdminDashboard.series.ttft95.filter(v => v != null))")).doubleValue();
        assertThat(ttft).isPositive().isLessThan(60_000);
        // Every chart drew.
        assertThat(browser.driver().findElements(By.cssSelector(".charts canvas"))).hasSize(6);
        // Tall enough to show every chart in the screenshot.
        browser.driver().manage().window().setSize(new org.openqa.selenium.Dimension(1400, 1500));
        Thread.sleep(1500);
        assertThat(Files.size(browser.shot("admin.png"))).isPositive();
    }

    @Test
    @Order(4)
    void reloadShowsTheHistoryAtOnce() {
        browser.driver().manage().window().setSize(new org.openqa.selenium.Dimension(1280, 900));
        browser.driver().navigate().refresh();
        browser.waiter().until(d -> el("dashboard").isDisplayed());
        // Straight from the server's ring buffer, before any new tick.
        browser.waiter().until(d -> ((Number) browser.js("return AdminDashboard.series.decode.filter(v => v > 0).length")).intValue() > 0);
        el("logout").click();
        browser.waiter().until(d -> el("login").isDisplayed());
        assertThat(browser.js("return sessionStorage.getItem('qwenchat.adminToken')")).isNull();
    }

    @Test
    @Order(5)
    void theSignInPageAndTheDashboardHaveNoSeriousAccessibilityViolations() {
        browser.waiter().until(d -> el("login").isDisplayed());
        assertThat(Accessibility.seriousViolations(browser.driver())).isEmpty();
        el("token").sendKeys(TOKEN);
        el("login-btn").click();
        browser.waiter().until(d -> el("dashboard").isDisplayed() && !text("engine-kv").isBlank());
        browser.waiter().until(d -> browser.driver().findElements(By.cssSelector(".charts canvas")).size() == 6);
        assertThat(Accessibility.seriousViolations(browser.driver())).isEmpty();
    }

    @Test
    @Order(6)
    void decodeAndPrefillRatesHaveTheirOwnAxesAndTheCpuEngineHasNoKernelsRow() {
        // A prefill spike on a shared axis would flatten the decode line to the floor.
        assertThat(browser.js("return AdminDashboard.charts['chart-tokens'].plot.series.slice(1).map(s => s.scale)"))
                .isEqualTo(java.util.List.of("y", "prefill"));
        assertThat(browser.js("return AdminDashboard.charts['chart-tokens'].plot.axes.map(a => a.scale)"))
                .isEqualTo(java.util.List.of("x", "y", "prefill"));
        assertThat(prop("engine-kv", "Engine")).isEqualTo("cpu");
        assertThat(browser.driver().findElements(By.cssSelector("#engine-kv dd[data-key='Kernels']"))).isEmpty();
        assertThat(text("engine-kv")).doesNotContain("Kernels");
    }

    @Test
    @Order(7)
    void onAPhoneTheChartsFitTheWidth() throws Exception {
        browser.driver().manage().window().setSize(new org.openqa.selenium.Dimension(390, 844));
        try {
            browser.waiter().until(d -> ((Number) browser.js("return Math.max(...[...document.querySelectorAll('.charts canvas, #chart-bias canvas')]"
                    + ".map(c => c.getBoundingClientRect().right))")).doubleValue() <= ((Number) browser.js("return window.innerWidth")).doubleValue());
            assertThat(((Number) browser.js("return document.documentElement.scrollWidth")).intValue())
                    .isLessThanOrEqualTo(((Number) browser.js("return window.innerWidth")).intValue());
            browser.js("document.querySelector('.charts').scrollIntoView()");
            browser.shot("admin-phone.png");
        } finally {
            browser.driver().manage().window().setSize(new org.openqa.selenium.Dimension(1280, 900));
        }
    }
}
