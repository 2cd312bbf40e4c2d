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
        assertThat(line).startsWith("request id=\"evil\\r\\nrequest id=forged\\u0000\\u001b[31m\\u2028\" prompt_tokens=1");
    }

    @Test
    void anIdThatLooksLikeFieldsStaysOneQuotedValue() {
        RequestOutcome o = new RequestOutcome("ws-x prompt_tokens=999 finish_reason=\"stop\" e2e_ms=\\", 1, 1, 0, 0, 0,
                "stop", null, 0);
        String line = RequestLog.line(o);
        assertThat(line).startsWith("request id=\"ws-x prompt_tokens=999 finish_reason=\\\"stop\\\" e2e_ms=\\\\\" prompt_tokens=1 ");
        // Reading the line back as key=value tokens, quotes respected, gives each key once.
        assertThat(fields(line)).containsExactly("request", "id", "prompt_tokens", "completion_tokens", "queue_ms",
                "ttft_ms", "e2e_ms", "tokens_per_s", "finish_reason");
    }

    @Test
    void emptyAndDashIdsAreQuotedSoTheyDifferFromAMissingValue() {
        assertThat(LogText.quote("")).isEqualTo("\"\"");
        assertThat(LogText.quote("-")).isEqualTo("\"-\"");
        assertThat(LogText.quote(null)).isEqualTo("-");
        assertThat(LogText.quote("ws-1234_ab.c:d/e")).isEqualTo("ws-1234_ab.c:d/e");
    }

    /** The keys of a logfmt line: tokens split on spaces outside double quotes, backslash escapes honoured. */
    static java.util.List<String> fields(String line) {
        java.util.List<String> keys = new java.util.ArrayList<>();
        StringBuilder token = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i <= line.length(); i++) {
            char c = i < line.length() ? line.charAt(i) : ' ';
            if (quoted && c == '\\') {
                i++;
            } else if (c == '"') {
                quoted = !quoted;
            } else if (c == ' ' && !quoted) {
                if (!token.isEmpty()) keys.add(token.toString().split("=", 2)[0]);
                token.setLength(0);
                continue;
            }
            token.append(c);
        }
        return keys;
    }

    @Test
    void escapeLeavesPlainTextAloneAndEscapesBackslashes() {
        assertThat(LogText.escape("plain-id_42")).isEqualTo("plain-id_42");
        assertThat(LogText.escape("a\\nb\tc")).isEqualTo("a\\\\nb\\tc");
        assertThat(LogText.escape(null)).isEqualTo("-");
    }
}
