package qwenchat.serving;

/** How long a finished (or the running) stage took; {@code durationMillis} is null while it runs. */
public record StageTiming(LoadStage stage, long startedAtEpochMillis, Long durationMillis) {
}
