package qwenchat.engine.cuda;

import static qwenchat.engine.cuda.CudaCheck.check;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jcuda.Pointer;
import jcuda.driver.JCudaDriver;

/**
 * Page-locked host memory: the staging area for uploads (the DMA engine reads it directly, so
 * {@code cuMemcpyHtoDAsync} really is asynchronous) and for small per-step results.
 */
public final class PinnedBuffer implements AutoCloseable {
    private final long bytes;
    private Pointer host;
    private final ByteBuffer buffer;

    private PinnedBuffer(long bytes, Pointer host) {
        this.bytes = bytes;
        this.host = host;
        this.buffer = host.getByteBuffer(0, bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    public static PinnedBuffer allocate(long bytes) {
        if (bytes <= 0 || bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("pinned buffer size must be in 1.." + Integer.MAX_VALUE + ", got " + bytes);
        }
        Pointer p = new Pointer();
        check(JCudaDriver.cuMemAllocHost(p, bytes), "cuMemAllocHost(" + bytes + " bytes)");
        return new PinnedBuffer(bytes, p);
    }

    public long bytes() {
        return bytes;
    }

    /** The host pointer, for driver copies. */
    public Pointer pointer() {
        if (host == null) throw new IllegalStateException("pinned buffer was freed");
        return host;
    }

    /** A little-endian view of the whole buffer (position 0, limit = size); each call returns a fresh view. */
    public ByteBuffer buffer() {
        return buffer.duplicate().order(ByteOrder.LITTLE_ENDIAN).clear();
    }

    @Override
    public void close() {
        if (host != null) {
            Pointer p = host;
            host = null;
            check(JCudaDriver.cuMemFreeHost(p), "cuMemFreeHost");
        }
    }
}
