package qwenchat.engine.cuda;

import static qwenchat.engine.cuda.CudaCheck.check;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import jcuda.driver.CUevent;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * Per-kernel GPU times for the benchmark's breakdown: while installed on a {@link KernelModule},
 * every {@link Launcher} launch of it is bracketed by CUDA events (so passes must run eagerly, not
 * from a graph). A span starts when its event is recorded, before the host has launched the kernel,
 * so a kernel shorter than the host's launch time shows that time instead. Context thread only.
 */
public final class KernelTimer {

    private record Span(String kernel, CUevent start, CUevent stop) {
    }

    private final List<Span> spans = new ArrayList<>();

    void before(String kernel, CUstream stream) {
        CUevent a = new CUevent();
        CUevent b = new CUevent();
        check(JCudaDriver.cuEventCreate(a, 0), "cuEventCreate");
        check(JCudaDriver.cuEventCreate(b, 0), "cuEventCreate");
        check(JCudaDriver.cuEventRecord(a, stream), "cuEventRecord");
        spans.add(new Span(kernel, a, b));
    }

    void after(CUstream stream) {
        check(JCudaDriver.cuEventRecord(spans.get(spans.size() - 1).stop(), stream), "cuEventRecord");
    }

    /** Kernel name to {total milliseconds, launches}, in first-launch order; frees the events. */
    Map<String, double[]> totals() {
        Map<String, double[]> out = new LinkedHashMap<>();
        for (Span s : spans) {
            check(JCudaDriver.cuEventSynchronize(s.stop()), "cuEventSynchronize");
            float[] ms = new float[1];
            check(JCudaDriver.cuEventElapsedTime(ms, s.start(), s.stop()), "cuEventElapsedTime");
            double[] t = out.computeIfAbsent(s.kernel(), n -> new double[2]);
            t[0] += ms[0];
            t[1]++;
            JCudaDriver.cuEventDestroy(s.start());
            JCudaDriver.cuEventDestroy(s.stop());
        }
        spans.clear();
        return out;
    }
}
