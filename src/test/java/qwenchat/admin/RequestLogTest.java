package qwenchat.admin;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import qwenchat.serving.RequestOutcome;

class RequestLogTest {

    @Test
    void lineCarriesCountsTimingsAndReasonOnly() {
        RequestOutcome o = new RequestOutcome("chatcmpl-1", 31, 8, 2_000_000, 60_400_000, 250_000_000, "length", null, 41.25);
        assertThat(RequestLog.line(o)).isEqualTo("request id=chatcmpl-1 prompt_tokens=31 completion_tokens=8 queue_ms=2"
                + " ttft_ms=60 e2e_ms=250 tokens_per_s=41.3 finish_reason=length");
    }

    @Test
    void failedRequestWithoutATokenShowsDashAndTheErrorCode() {
        RequestOutcome o = new RequestOutcome("r2", 5, 0, 1_000_000, -1, 3_000_000, "error", "ENGINE_FAILURE", 0);
        assertThat(RequestLog.line(o)).contains("ttft_ms=-").endsWith("finish_reason=error error=ENGINE_FAILURE");
    }

    @Test
    void controlCharactersInTheIdCannotForgeALine() {
        RequestOutcome o = new RequestOutcome("evil\r\nrequest id=forged\u0000\u001b[31m\u2028", 1, 1, 0, 0, 0, "stop", null, 0);
        String line = RequestLog.line(o);
        assertThat(line).doesNotContain("\n").doesNotContain("\r").doesNotContain("\u0000").doesNotContain("\u001b")
                .doesNotContain("\u2028");
        assertThat(line).startsWith("request id=evil\\r\\nrequest id=forged\\u0000\\u001b[31m\\u2028 prompt_tokens=1");
    }

    @Test
    void escapeLeavesPlainTextAloneAndEscapesBackslashes() {
        assertThat(LogText.escape("plain-id_42")).isEqualTo("plain-id_42");
        assertThat(LogText.escape("a\\nb\tc")).isEqualTo("a\\\\nb\\tc");
        assertThat(LogText.escape(null)).isEqualTo("-");
    }
}
