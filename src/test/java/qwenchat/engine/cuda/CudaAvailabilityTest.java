package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class CudaAvailabilityTest {
    @Test
    void probeAnswersWithAReasonInsteadOfThrowing() {
        CudaAvailability a = CudaAvailability.probeNow();
        assertNotNull(a.reason());
        assertFalse(a.reason().isBlank());
        if (a.available()) assertTrue(a.deviceCount() > 0);
    }

    @Test
    void checkNamesTheFailedCall() {
        var e = org.junit.jupiter.api.Assertions.assertThrows(qwenchat.engine.EngineException.class,
                () -> CudaCheck.check(jcuda.driver.CUresult.CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc(42 bytes for test)"));
        assertTrue(e.getMessage().startsWith("cuMemAlloc(42 bytes for test) failed: CUDA_ERROR_OUT_OF_MEMORY"), e.getMessage());
    }
}
