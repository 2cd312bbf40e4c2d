package qwenchat.engine.cuda;

import static qwenchat.engine.cuda.CudaCheck.check;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUmodule;
import jcuda.driver.JCudaDriver;
import qwenchat.engine.EngineException;

/**
 * The kernels the build compiled into {@code /kernels/qwen.fatbin}, loaded into the current
 * context. {@code /kernels/kernels.properties} tells a jar built without nvcc apart from a broken
 * one, so the error can say which.
 */
public final class KernelModule implements AutoCloseable {
    static final String FATBIN = "/kernels/qwen.fatbin";
    static final String PROPERTIES = "/kernels/kernels.properties";

    private CUmodule module;
    private final Map<String, CUfunction> functions = new HashMap<>();
    /** While set, every {@link Launcher} launch of this module is timed by it (the benchmark's breakdown). */
    private KernelTimer timer;

    private KernelModule(CUmodule module) {
        this.module = module;
    }

    /** The timer bracketing this module's launches, or null (inside the context's call only). */
    KernelTimer timer() {
        return timer;
    }

    /** Installs {@code t} as the timer of this module's launches; null removes it. */
    void timer(KernelTimer t) {
        timer = t;
    }

    /** Loads the fatbin from the classpath; call inside {@link CudaContext#call}. */
    public static KernelModule load() {
        byte[] image = readFatbin();
        CUmodule m = new CUmodule();
        check(JCudaDriver.cuModuleLoadData(m, image), "cuModuleLoadData(" + FATBIN + ", " + image.length + " bytes)");
        return new KernelModule(m);
    }

    /** What kernels.properties says, or null when the jar has none. */
    public static Properties buildInfo() {
        try (InputStream in = KernelModule.class.getResourceAsStream(PROPERTIES)) {
            if (in == null) return null;
            Properties p = new Properties();
            p.load(in);
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + PROPERTIES, e);
        }
    }

    /** Null when the jar has kernels; otherwise why not. */
    public static String missingReason() {
        Properties p = buildInfo();
        if (p == null) return "the jar has no " + PROPERTIES + " (built without the kernel build hook)";
        if (!Boolean.parseBoolean(p.getProperty("available"))) {
            return "the jar was built without CUDA kernels: " + p.getProperty("reason", "no reason recorded");
        }
        if (KernelModule.class.getResource(FATBIN) == null) {
            return PROPERTIES + " says kernels are available but " + FATBIN + " is missing from the jar";
        }
        return null;
    }

    static byte[] readFatbin() {
        String missing = missingReason();
        if (missing != null) throw new EngineException("cannot load CUDA kernels: " + missing);
        try (InputStream in = KernelModule.class.getResourceAsStream(FATBIN)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new EngineException("cannot read " + FATBIN + ": " + e.getMessage(), e);
        }
    }

    /** The kernel named {@code name} (an {@code extern "C"} symbol); cached. */
    public CUfunction function(String name) {
        CUfunction f = functions.get(name);
        if (f == null) {
            if (module == null) throw new IllegalStateException("kernel module was unloaded");
            f = new CUfunction();
            check(JCudaDriver.cuModuleGetFunction(f, module, name), "cuModuleGetFunction(" + name + ")");
            functions.put(name, f);
        }
        return f;
    }

    /** Lets {@code name} use up to {@code bytes} of dynamic shared memory (needed above 48 KB). */
    public void allowDynamicShared(String name, int bytes) {
        check(JCudaDriver.cuFuncSetAttribute(function(name),
                CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes),
                "cuFuncSetAttribute(" + name + ", MAX_DYNAMIC_SHARED_SIZE_BYTES=" + bytes + ")");
    }

    @Override
    public void close() {
        if (module != null) {
            CUmodule m = module;
            module = null;
            functions.clear();
            check(JCudaDriver.cuModuleUnload(m), "cuModuleUnload");
        }
    }
}
