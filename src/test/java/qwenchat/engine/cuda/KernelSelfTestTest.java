package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("gpu")
class KernelSelfTestTest {
    @Test
    void axpyKernelMatchesCpu() {
        CudaContext ctx = GpuTestSupport.context();
        Random r = new Random(1);
        float[] x = new float[1000];
        for (int i = 0; i < x.length; i++) x[i] = r.nextFloat() - 0.5f;
        assertArrayEquals(KernelSelfTest.expected(x, 2.5f), KernelSelfTest.run(ctx, x, 2.5f), 0f);
    }
}
