package qwenchat.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.WebDriverWait;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import qwenchat.model.ModelConfig;
import qwenchat.serving.LoadWait;
import qwenchat.serving.ModelRuntime;
import qwenchat.web.Accessibility;
import qwenchat.web.HeadlessChromium;

/**
 * The bias lab in headless chromium against the real app on the demo checkpoint: sign-in, a run
 * with the k biases ablated, both continuations, the KL bars and the four heatmaps, the exports,
 * and no serious accessibility violations. The screenshot lands in target/screenshots/bias-lab.png
 * and is copied to docs/screenshots/bias-lab.png for docs/bias-lab.md.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "qwen.demo-dir=target/qwen-chat-demo", "qwen.cpu-threads=2", "qwen.kv-max-sequences=4",
        "qwen.admin.token=" + LabPageBrowserTest.TOKEN})
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LabPageBrowserTest {

    static final String TOKEN = "lab-Token-17";
    static final Path DOCS_SHOT = Path.of("docs/screenshots/bias-lab.png");

    @DynamicPropertySource
    static void dataDir(DynamicPropertyRegistry r) throws Exception {
        String dir = Files.createTempDirectory("qwen-lab-browser").toString();
        r.add("qwen.data-dir", () -> dir);
    }

    @LocalServerPort
    int port;
    @Autowired
    ModelRuntime runtime;

    ChromeDriver driver;
    WebDriverWait waiter;

    @BeforeAll
    void start() throws Exception {
        driver = HeadlessChromium.start();
        waiter = new WebDriverWait(driver, Duration.ofSeconds(120));
        LoadWait.ready(runtime);
    }

    @AfterAll
    void stop() {
        if (driver != null) driver.quit();
    }

    private WebElement el(String id) {
        return driver.findElement(By.id(id));
    }

    private Object js(String script, Object... args) {
        return driver.executeScript(script, args);
    }

    private ModelConfig config() {
        return runtime.served().orElseThrow().config();
    }

    @Test
    @Order(1)
    void signInRefusesAWrongTokenAndAcceptsTheRightOne() {
        driver.get("http://localhost:" + port + "/lab");
        waiter.until(d -> el("login").isDisplayed());
        assertThat(el("lab").isDisplayed()).isFalse();
        assertThat(Accessibility.seriousViolations(driver)).isEmpty();
        el("token").sendKeys("not-" + TOKEN);
        el("login-btn").click();
        waiter.until(d -> el("login-error").isDisplayed());
        assertThat(el("login-error").getText()).isEqualTo("incorrect admin token");
        el("token").sendKeys(TOKEN);
        el("login-btn").click();
        waiter.until(d -> el("lab").isDisplayed());
        waiter.until(d -> el("demo-badge").isDisplayed());
        assertThat(el("to-layer").getAttribute("value")).isEqualTo(String.valueOf(config().numHiddenLayers() - 1));
    }

    @Test
    @Order(2)
    void aRunShowsBothContinuationsTheKlBarsAndTheFourHeatmaps() throws Exception {
        int layers = config().numHiddenLayers();
        int heads = config().numAttentionHeads();
        el("max-tokens").clear();
        el("max-tokens").sendKeys("12");
        el("run").click();
        waiter.until(d -> el("results").isDisplayed() && "done".equals(el("run-state").getText()));
        assertThat(el("live-text").getText()).isNotBlank();
        assertThat(el("ablated-text").getText()).isNotBlank();
        assertThat(el("ablation-label").getText()).isEqualTo("(k, layers 0–" + (layers - 1) + ")");
        assertThat(driver.findElements(By.cssSelector("#kl-chart rect[data-layer]"))).hasSize(layers);
        for (String map : List.of("entropy-live", "entropy-ablated", "sink-live", "sink-ablated")) {
            assertThat(driver.findElements(By.cssSelector("#" + map + " rect[data-head]"))).as(map).hasSize(layers * heads);
            WebElement svg = driver.findElement(By.cssSelector("#" + map + " svg"));
            assertThat(svg.getAttribute("role")).isEqualTo("img");
            assertThat(svg.getAttribute("aria-label")).contains(layers + " layers by " + heads + " heads");
            assertThat(driver.findElement(By.cssSelector("#" + map + " .legend-hi")).getText()).isNotBlank();
        }
        // The sink maps share the probability scale 0..1.
        assertThat(driver.findElement(By.cssSelector("#sink-live .legend-hi")).getText()).isEqualTo("1.00");
        String id = (String) js("return BiasLab.last.id");
        assertThat(el("export-csv").getAttribute("href")).endsWith("/lab/api/runs/" + id + "/csv");
        Object lines = ((org.openqa.selenium.JavascriptExecutor) driver).executeAsyncScript(
                "const done = arguments[arguments.length - 1];"
                        + "fetch(arguments[0], {headers: {Authorization: 'Bearer ' + sessionStorage.getItem('qwenchat.adminToken')}})"
                        + ".then(r => r.text()).then(t => done(t.trim().split('\\n').length));",
                el("export-csv").getAttribute("href"));
        assertThat(((Number) lines).intValue()).isEqualTo(1 + layers * heads);

        driver.manage().window().setSize(new Dimension(1300, 1600));
        Thread.sleep(500);
        HeadlessChromium.screenshot(driver, "bias-lab.png");
        Path shot = HeadlessChromium.SHOTS.resolve("bias-lab.png");
        assertThat(Files.size(shot)).isPositive();
        if (Files.isDirectory(DOCS_SHOT.getParent())) Files.copy(shot, DOCS_SHOT, StandardCopyOption.REPLACE_EXISTING);
    }

    @Test
    @Order(3)
    void theLabWithResultsHasNoSeriousAccessibilityViolations() {
        waiter.until(d -> el("results").isDisplayed());
        assertThat(Accessibility.seriousViolations(driver)).isEmpty();
    }

    @Test
    @Order(4)
    void aRangeOutsideTheModelIsReportedOnThePage() {
        el("from-layer").clear();
        el("from-layer").sendKeys("2");
        el("to-layer").clear();
        el("to-layer").sendKeys("1");
        el("run").click();
        waiter.until(d -> el("run-error").isDisplayed());
        assertThat(el("run-error").getText()).startsWith("layers: the range 2..1");
        el("logout").click();
        waiter.until(d -> el("login").isDisplayed());
        assertThat(js("return sessionStorage.getItem('qwenchat.adminToken')")).isNull();
    }
}
