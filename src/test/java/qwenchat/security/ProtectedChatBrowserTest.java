package qwenchat.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.openqa.selenium.Alert;
import org.openqa.selenium.By;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import qwenchat.web.HeadlessChromium;

/**
 * The chat page against a server with {@code qwen.security.protect-chat=true}: it asks for the key
 * until one is accepted, keeps it, and opens the socket with a ticket. The model cannot load, so
 * the loading screen's failure reason (a status frame) proves the socket is open.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "qwen.model-dir=target/no-such-model-dir", "qwen.api-keys=" + ProtectedChatBrowserTest.KEY,
        "qwen.security.protect-chat=true", "qwen.data-dir=" + PathBypassTest.DATA_DIR})
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ProtectedChatBrowserTest {

    static final String KEY = "browser-chat-key";

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
    void thePageAsksForTheKeyUntilAcceptedThenKeepsIt() throws Exception {
        WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(30));
        driver.get("http://localhost:" + port + "/");

        Alert first = wait.until(ExpectedConditions.alertIsPresent());
        assertThat(first.getText()).contains("missing API key").contains("Enter yours");
        first.sendKeys("not-the-key");
        first.accept();
        Alert second = wait.until(ExpectedConditions.alertIsPresent());
        assertThat(second.getText()).contains("incorrect API key");
        second.sendKeys(KEY);
        second.accept();

        wait.until(d -> d.findElement(By.id("load-error")).isDisplayed());
        assertThat(driver.findElement(By.id("load-error")).getText()).contains("not a directory");
        assertThat(driver.executeScript("return localStorage.getItem('qwenchat.apiKey')")).isEqualTo(KEY);

        // A reload finds the key and asks nothing (an open prompt would fail the next lookup).
        driver.navigate().refresh();
        wait.until(d -> d.findElement(By.id("load-error")).isDisplayed());
        HeadlessChromium.screenshot(driver, "protected-chat.png");
    }
}
