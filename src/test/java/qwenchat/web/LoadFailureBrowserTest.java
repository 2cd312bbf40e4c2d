package qwenchat.web;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.openqa.selenium.By;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.WebDriverWait;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/** A model that cannot load: the loading screen says why and never pretends to be ready. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = "qwen.model-dir=target/no-such-model-dir")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LoadFailureBrowserTest {

    @DynamicPropertySource
    static void dataDir(DynamicPropertyRegistry r) throws Exception {
        String dir = Files.createTempDirectory("qwen-webchat-fail").toString();
        r.add("qwen.data-dir", () -> dir);
    }

    @LocalServerPort
    int port;

    ChromeDriver driver;

    @BeforeAll
    void startBrowser() throws Exception {
        driver = HeadlessChromium.start();
    }

    @AfterAll
    void stopBrowser() {
        if (driver != null) driver.quit();
    }

    @Test
    void loadingScreenShowsTheFailureReason() throws Exception {
        driver.get("http://localhost:" + port + "/");
        new WebDriverWait(driver, Duration.ofSeconds(30)).until(d -> d.findElement(By.id("load-error")).isDisplayed());
        assertThat(driver.findElement(By.id("load-error")).getText())
                .startsWith("The model failed to load:").contains("no-such-model-dir: not a directory")
                .doesNotContain("target/");
        assertThat(driver.findElements(By.cssSelector("#stage-list li.failed"))).hasSize(1);
        assertThat(driver.findElement(By.id("app")).isDisplayed()).isFalse();
        HeadlessChromium.screenshot(driver, "load-failed.png");
    }
}
