package qwenchat.engine.cuda;

import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;
import qwenchat.engine.EngineException;

/** Turns driver-API result codes into {@link EngineException}s that name the failed call. */
public final class CudaCheck {
    private CudaCheck() {
    }

    /**
     * @param result the CUresult a {@code JCudaDriver} call returned
     * @param call the call as it should appear in the message, e.g. {@code "cuMemAlloc(1048576 bytes)"}
     */
    public static void check(int result, String call) {
        if (result != CUresult.CUDA_SUCCESS) {
            throw new EngineException(call + " failed: " + describe(result));
        }
    }

    static String describe(int result) {
        String name = CUresult.stringFor(result);
        String[] text = new String[1];
        // cuGetErrorString can fail (before cuInit, or without libcuda at all); the enum name still helps then.
        try {
            if (JCudaDriver.cuGetErrorString(result, text) == CUresult.CUDA_SUCCESS && text[0] != null) {
                return name + " (" + result + "): " + text[0];
            }
        } catch (Throwable ignored) {
            // no driver library: fall through to the name alone
        }
        return name + " (" + result + ")";
    }
}
