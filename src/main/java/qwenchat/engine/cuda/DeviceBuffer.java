package qwenchat.engine.cuda;

import static qwenchat.engine.cuda.CudaCheck.check;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * One device allocation. Create, copy and free only on the owning {@link CudaContext}'s worker
 * thread. {@link #name} goes into every error message so an out-of-memory names what was asked for.
 */
public final class DeviceBuffer implements AutoCloseable {
    private final String name;
    private final long bytes;
    private CUdeviceptr ptr;

    private DeviceBuffer(String name, long bytes, CUdeviceptr ptr) {
        this.name = name;
        this.bytes = bytes;
        this.ptr = ptr;
    }

    public static DeviceBuffer allocate(String name, long bytes) {
        if (bytes <= 0) throw new IllegalArgumentException("device buffer " + name + " needs a positive size, got " + bytes);
        CUdeviceptr p = new CUdeviceptr();
        check(JCudaDriver.cuMemAlloc(p, bytes), "cuMemAlloc(" + bytes + " bytes for " + name + ")");
        return new DeviceBuffer(name, bytes, p);
    }

    public String name() {
        return name;
    }

    public long bytes() {
        return bytes;
    }

    /** The base pointer; throws once freed. */
    public CUdeviceptr ptr() {
        if (ptr == null) throw new IllegalStateException("device buffer " + name + " was freed");
        return ptr;
    }

    /** A pointer {@code offset} bytes into the buffer. */
    public CUdeviceptr at(long offset) {
        checkRange(offset, 0);
        return ptr().withByteOffset(offset);
    }

    public void copyFromHost(Pointer src, long offset, long count) {
        checkRange(offset, count);
        check(JCudaDriver.cuMemcpyHtoD(ptr().withByteOffset(offset), src, count),
                "cuMemcpyHtoD(" + count + " bytes into " + name + "+" + offset + ")");
    }

    public void copyFromHostAsync(Pointer src, long offset, long count, CUstream stream) {
        checkRange(offset, count);
        check(JCudaDriver.cuMemcpyHtoDAsync(ptr().withByteOffset(offset), src, count, stream),
                "cuMemcpyHtoDAsync(" + count + " bytes into " + name + "+" + offset + ")");
    }

    public void copyToHost(Pointer dst, long offset, long count) {
        checkRange(offset, count);
        check(JCudaDriver.cuMemcpyDtoH(dst, ptr().withByteOffset(offset), count),
                "cuMemcpyDtoH(" + count + " bytes from " + name + "+" + offset + ")");
    }

    public void copyToHostAsync(Pointer dst, long offset, long count, CUstream stream) {
        checkRange(offset, count);
        check(JCudaDriver.cuMemcpyDtoHAsync(dst, ptr().withByteOffset(offset), count, stream),
                "cuMemcpyDtoHAsync(" + count + " bytes from " + name + "+" + offset + ")");
    }

    public void copyFromHost(float[] src) {
        copyFromHost(Pointer.to(src), 0, (long) src.length * Float.BYTES);
    }

    public void copyFromHost(int[] src) {
        copyFromHost(Pointer.to(src), 0, (long) src.length * Integer.BYTES);
    }

    public void copyFromHost(short[] src) {
        copyFromHost(Pointer.to(src), 0, (long) src.length * Short.BYTES);
    }

    public void copyToHost(float[] dst) {
        copyToHost(Pointer.to(dst), 0, (long) dst.length * Float.BYTES);
    }

    public void copyToHost(int[] dst) {
        copyToHost(Pointer.to(dst), 0, (long) dst.length * Integer.BYTES);
    }

    public void copyToHost(short[] dst) {
        copyToHost(Pointer.to(dst), 0, (long) dst.length * Short.BYTES);
    }

    /** Fills the buffer with a 32-bit pattern (e.g. {@code Float.floatToRawIntBits(Float.NaN)} to poison outputs). */
    public void fill32(int pattern) {
        check(JCudaDriver.cuMemsetD32(ptr(), pattern, bytes / 4), "cuMemsetD32(" + name + ")");
    }

    public void fill16(short pattern) {
        check(JCudaDriver.cuMemsetD16(ptr(), pattern, bytes / 2), "cuMemsetD16(" + name + ")");
    }

    public void zero() {
        check(JCudaDriver.cuMemsetD8(ptr(), (byte) 0, bytes), "cuMemsetD8(" + name + ")");
    }

    private void checkRange(long offset, long count) {
        if (offset < 0 || count < 0 || offset + count > bytes) {
            throw new IndexOutOfBoundsException("range [" + offset + ", " + (offset + count) + ") outside device buffer "
                    + name + " of " + bytes + " bytes");
        }
    }

    @Override
    public void close() {
        if (ptr != null) {
            CUdeviceptr p = ptr;
            ptr = null;
            check(JCudaDriver.cuMemFree(p), "cuMemFree(" + name + ")");
        }
    }
}
