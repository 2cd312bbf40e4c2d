package qwenchat.weights;

/** Element types the reader accepts, with their safetensors names. */
public enum DType {
    BF16("BF16", 2),
    F16("F16", 2),
    F32("F32", 4);

    private final String safetensorsName;
    private final int byteSize;

    DType(String safetensorsName, int byteSize) {
        this.safetensorsName = safetensorsName;
        this.byteSize = byteSize;
    }

    public String safetensorsName() {
        return safetensorsName;
    }

    public int byteSize() {
        return byteSize;
    }
}
