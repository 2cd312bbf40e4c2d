package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import jcuda.driver.CUcontext;
import jcuda.driver.JCudaDriver;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import qwenchat.engine.EngineException;

@Tag("gpu")
class CudaContextTest {
    /** The context current on this thread, as JCuda prints its handle ("...nativePointer=0x0]": none). */
    private static String currentHandle() {
        CUcontext c = new CUcontext();
        CudaCheck.check(JCudaDriver.cuCtxGetCurrent(c), "cuCtxGetCurrent");
        return c.toString();
    }

    @Test
    void aPlatformThreadRunsItsWorkItselfWithTheContextCurrent() throws Exception {
        CudaContext ctx = GpuTestSupport.context();
        String onCaller = ctx.call(CudaContextTest::currentHandle);
        AtomicReference<String> ranOn = new AtomicReference<>();
        AtomicReference<String> other = new AtomicReference<>();
        Thread t = Thread.ofPlatform().name("another-caller").start(() -> other.set(ctx.call(() -> {
            ranOn.set(Thread.currentThread().getName());
            ctx.requireOwner();
            return currentHandle();
        })));
        t.join();
        assertEquals("another-caller", ranOn.get());
        assertTrue(!onCaller.endsWith("=0x0]"), "a context is current inside call: " + onCaller);
        assertEquals(onCaller, other.get(), "the same context is current on every calling thread");
    }

    @Test
    void aVirtualThreadsWorkRunsOnTheWorkerThread() throws Exception {
        CudaContext ctx = GpuTestSupport.context();
        AtomicReference<String> ranOn = new AtomicReference<>();
        Thread t = Thread.ofVirtual().start(() -> ctx.run(() -> {
            ctx.requireOwner();
            ranOn.set(Thread.currentThread().getName());
        }));
        t.join();
        assertTrue(ranOn.get().startsWith("cuda-worker-"), "ran on " + ranOn.get());
    }

    @Test
    void deviceWorkOutsideCallIsRefused() {
        CudaContext ctx = GpuTestSupport.context();
        assertThrows(IllegalStateException.class, ctx::requireOwner);
        assertThrows(IllegalStateException.class, ctx::synchronize);
    }

    @Test
    void callsFromSeveralThreadsNeverOverlap() throws Exception {
        CudaContext ctx = GpuTestSupport.context();
        int[] inside = {0};
        int[] most = {0};
        int[] total = {0};
        CountDownLatch go = new CountDownLatch(1);
        Thread[] threads = new Thread[4];
        for (int i = 0; i < threads.length; i++) {
            Thread.Builder b = i % 2 == 0 ? Thread.ofPlatform() : Thread.ofVirtual();
            threads[i] = b.start(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                for (int j = 0; j < 500; j++) {
                    ctx.run(() -> {
                        // Unsynchronised on purpose: the context's lock is the only guard.
                        inside[0]++;
                        most[0] = Math.max(most[0], inside[0]);
                        Thread.onSpinWait();
                        total[0]++;
                        inside[0]--;
                    });
                }
            });
        }
        go.countDown();
        for (Thread t : threads) t.join();
        assertEquals(1, ctx.call(() -> most[0]), "at most one caller inside at a time");
        assertEquals(2000, ctx.call(() -> total[0]));
    }

    @Test
    void aClosedContextRefusesWorkAndClosesOnce() throws Exception {
        GpuTestSupport.assumeGpu();
        CudaContext ctx = CudaContext.create(0);
        ctx.close();
        ctx.close();
        assertThrows(EngineException.class, () -> ctx.call(() -> 1));
        AtomicReference<Throwable> fromVirtual = new AtomicReference<>();
        Thread t = Thread.ofVirtual().start(() -> {
            try {
                ctx.call(() -> 1);
            } catch (Throwable e) {
                fromVirtual.set(e);
            }
        });
        t.join();
        assertTrue(fromVirtual.get() instanceof EngineException, "virtual thread got " + fromVirtual.get());
    }
}
