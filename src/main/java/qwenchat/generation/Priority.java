package qwenchat.generation;

/**
 * How a request competes for the engine. Chat and API requests are {@link #INTERACTIVE}; the bias
 * lab's runs are {@link #BACKGROUND}: admitted only while no interactive request waits, and the
 * first to give way when the KV cache runs short, so they never stall a chat user.
 */
public enum Priority {
    INTERACTIVE,
    BACKGROUND
}
