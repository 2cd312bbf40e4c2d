package qwenchat.engine;

/** Receives weight-loading progress; the readiness gate shows it. Called from the loading thread. */
@FunctionalInterface
public interface LoadProgressListener {
    /**
     * @param bytesDone bytes of weights loaded so far
     * @param bytesTotal bytes of weights in all
     * @param tensor the tensor being loaded now
     */
    void onProgress(long bytesDone, long bytesTotal, String tensor);

    LoadProgressListener NONE = (done, total, tensor) -> { };
}
