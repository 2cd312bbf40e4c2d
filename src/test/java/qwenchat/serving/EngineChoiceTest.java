package qwenchat.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import qwenchat.engine.EngineException;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import qwenchat.serving.EngineChoice.Choice;
import qwenchat.engine.cuda.CudaAvailability;

class EngineChoiceTest {
    static final CudaAvailability NO_GPU = new CudaAvailability(false, "no CUDA device is present", 0);
    static final CudaAvailability GPU = new CudaAvailability(true, "1 CUDA device(s) and kernels present", 1);

    @Test
    void autoPicksCudaOnlyWhenUsable() {
        assertEquals(Choice.CUDA, EngineChoice.resolve(Choice.AUTO, GPU));
        assertEquals(Choice.CPU, EngineChoice.resolve(Choice.AUTO, NO_GPU));
        assertEquals(Choice.CPU, EngineChoice.resolve(Choice.CPU, GPU));
    }

    @Test
    void explicitCudaWithoutGpuFailsWithTheProbeReason() {
        var e = assertThrows(EngineException.class, () -> EngineChoice.resolve(Choice.CUDA, NO_GPU));
        assertTrue(e.getMessage().contains("no CUDA device is present"), e.getMessage());
    }

    @Test
    void parsesPropertyValuesAndRejectsOthersByName() {
        assertEquals(Choice.AUTO, Choice.parse(null));
        assertEquals(Choice.CUDA, Choice.parse(" CUDA "));
        assertEquals(Choice.CPU, Choice.parse("cpu"));
        var e = assertThrows(IllegalArgumentException.class, () -> Choice.parse("tpu"));
        assertTrue(e.getMessage().contains("'tpu'"), e.getMessage());
    }
}
