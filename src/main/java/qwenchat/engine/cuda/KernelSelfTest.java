package qwenchat.engine.cuda;

import static qwenchat.engine.cuda.CudaCheck.check;

import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

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
            try (KernelModule module = KernelModule.load()) {
                Launcher launcher = new Launcher(module, ctx.stream());
                return runWith(ctx.stream(), x, a, (grid, block, args) -> launcher.launch(KERNEL, grid, 1, 1, block, 0, args));
            }
        });
    }

    static final String KERNEL = "selftest_axpy";

    /** Launches {@link #KERNEL} with a 1-D grid, no dynamic shared memory and these arguments. */
    interface Launch {
        void launch(int grid, int block, Object... args);
    }

    /**
     * Uploads {@code x}, runs the kernel through {@code launch} on {@code stream}, waits and returns
     * its output (pre-filled with NaN, so a launch that did nothing cannot pass). Inside
     * {@link CudaContext#call}.
     */
    static float[] runWith(CUstream stream, float[] x, float a, Launch launch) {
        try (DeviceBuffer in = DeviceBuffer.allocate("selftest.x", (long) x.length * 4);
             DeviceBuffer out = DeviceBuffer.allocate("selftest.out", (long) x.length * 4)) {
            in.copyFromHost(x);
            out.fill32(Float.floatToRawIntBits(Float.NaN));
            launch.launch((x.length + 255) / 256, 256, in, out, a, x.length);
            check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize(" + KERNEL + ")");
            float[] result = new float[x.length];
            out.copyToHost(result);
            return result;
        }
    }
}
