package qwenchat.serving;

import java.util.List;

/**
 * A snapshot of model loading, pushed to the loading screen and reported by the readiness health.
 *
 * @param percent overall progress 0..100 (weights dominate)
 * @param bytesDone weight bytes loaded so far
 * @param tensorsDone tensors loaded so far
 * @param currentTensor the tensor being loaded, or null
 * @param etaMillis estimated time left, or null when unknown
 * @param error why loading failed; null unless {@code state == FAILED}
 * @param modelName display name; "demo weights (random)" for the demo checkpoint
 */
public record LoadStatus(
        LoadState state,
        LoadStage stage,
        double percent,
        long bytesDone,
        long bytesTotal,
        int tensorsDone,
        int tensorsTotal,
        String currentTensor,
        Long etaMillis,
        String error,
        String modelName,
        boolean demo,
        List<StageTiming> stages) {

    public LoadStatus {
        stages = List.copyOf(stages);
    }
}
