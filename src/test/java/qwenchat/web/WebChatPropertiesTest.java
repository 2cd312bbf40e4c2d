package qwenchat.web;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class WebChatPropertiesTest {

    static WebChatProperties with(Duration readIdle, Duration ping) {
        return new WebChatProperties(262144, 1 << 20, Duration.ofSeconds(10), List.of(), 1024, 2000, readIdle, ping);
    }

    @Test
    void pingsMustComeMoreOftenThanTheReadIdleTimeoutOrQuietClientsWouldBeClosed() {
        assertThat(with(Duration.ofSeconds(60), Duration.ofSeconds(20)).pingInterval()).hasSeconds(20);
        assertThatThrownBy(() -> with(Duration.ofSeconds(10), Duration.ofSeconds(10)))
                .hasMessageContaining("qwen.web.ping-interval").hasMessageContaining("qwen.web.read-idle-timeout");
        assertThatThrownBy(() -> with(Duration.ofSeconds(10), Duration.ZERO)).hasMessageContaining("must be positive");
    }
}
