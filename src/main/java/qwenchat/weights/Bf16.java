package qwenchat.weights;

/** Conversions between float and bfloat16 bits (the upper half of an IEEE float). */
public final class Bf16 {
    private Bf16() {
    }

    /** bf16 bits (low 16 bits of {@code bits}) widened to float; exact. */
    public static float toFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /**
     * Rounds to the nearest bf16, ties to even, as PyTorch does. A NaN keeps its sign and stays a
     * (quiet) NaN: plain truncation could clear every remaining mantissa bit and turn it into infinity.
     */
    public static short fromFloat(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }
}
