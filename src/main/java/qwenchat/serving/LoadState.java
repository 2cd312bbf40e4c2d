package qwenchat.serving;

/** Where the model is in its life: loading (with a stage), ready to serve, or failed for good. */
public enum LoadState {
    LOADING,
    READY,
    FAILED
}
