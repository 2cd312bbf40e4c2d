package qwenchat.engine.cuda;

/**
 * Runs the trivial {@code selftest_axpy} kernel end to end (module load, upload, launch,
 * download): the cheapest proof that the driver, the fatbin and the launcher work together.
 */
public final class KernelSelfTest {
    private KernelSelfTest() {
    }

    /** The CPU counterpart of {@code selftest_axpy}. */
    public static float[] expected(float[] x, float a) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) out[i] = a * x[i] + (float) i;
        return out;
    }

    /** Runs the kernel on {@code x} in {@code ctx} and returns its output. */
    public static float[] run(CudaContext ctx, float[] x, float a) {
        return ctx.call(() -> {
            try (KernelModule module = KernelModule.load();
                 DeviceBuffer in = DeviceBuffer.allocate("selftest.x", (long) x.length * 4);
                 DeviceBuffer out = DeviceBuffer.allocate("selftest.out", (long) x.length * 4)) {
                in.copyFromHost(x);
                out.fill32(Float.floatToRawIntBits(Float.NaN));
                new Launcher(module, ctx.stream()).launch("selftest_axpy", (x.length + 255) / 256, 1, 1, 256, 0,
                        in, out, a, x.length);
                ctx.synchronize();
                float[] result = new float[x.length];
                out.copyToHost(result);
                return result;
            }
        });
    }
}
