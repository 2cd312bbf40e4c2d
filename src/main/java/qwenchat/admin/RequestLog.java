package qwenchat.admin;

import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import qwenchat.serving.RequestOutcome;
import qwenchat.serving.SchedulerObserver;

/**
 * One structured line per finished request on the {@code qwenchat.requests} logger: id (quoted by
 * {@link LogText#quote} unless plain, so no id can forge a field), token
 * counts, timings and finish reason. Never prompt or reply text.
 */
final class RequestLog implements SchedulerObserver {

    static final Logger LOG = LoggerFactory.getLogger("qwenchat.requests");

    @Override
    public void onFinished(RequestOutcome o) {
        if (!LOG.isInfoEnabled()) return;
        LOG.info(line(o));
    }

    static String line(RequestOutcome o) {
        return String.format(Locale.ROOT,
                "request id=%s prompt_tokens=%d completion_tokens=%d queue_ms=%d ttft_ms=%s e2e_ms=%d tokens_per_s=%.1f finish_reason=%s%s",
                LogText.quote(o.requestId()), o.promptTokens(), o.completionTokens(), o.queueNanos() / 1_000_000,
                o.timeToFirstTokenNanos() < 0 ? "-" : String.valueOf(o.timeToFirstTokenNanos() / 1_000_000),
                o.e2eNanos() / 1_000_000, o.decodeTokensPerSecond(), o.finishReason(),
                o.errorCode() == null ? "" : " error=" + LogText.quote(o.errorCode()));
    }
}
