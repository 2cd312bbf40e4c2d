package qwenchat.engine.cuda;

import static qwenchat.engine.cuda.CudaCheck.check;

import java.nio.ByteBuffer;
import jcuda.driver.CUevent;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;
import qwenchat.engine.LoadProgressListener;
import qwenchat.weights.Bf16;
import qwenchat.weights.DType;
import qwenchat.weights.Tensor;

/**
 * Copies tensors from their memory map to the device through two pinned staging buffers used in
 * turn: while the DMA engine drains one, the CPU fills the other from the page cache. Tensors that
 * are not bf16 are converted row by row (round to nearest even) on the way. Runs on the context
 * thread.
 */
final class WeightUploader implements AutoCloseable {
    static final int STAGE_BYTES = 32 << 20;

    private final CUstream stream;
    private final PinnedBuffer[] stage = new PinnedBuffer[2];
    private final CUevent[] drained = new CUevent[2];
    private final boolean[] pending = new boolean[2];
    private final LoadProgressListener listener;
    private final long bytesTotal;
    private long bytesDone;
    private int next;

    WeightUploader(CUstream stream, LoadProgressListener listener, long bytesTotal) {
        this.stream = stream;
        this.listener = listener;
        this.bytesTotal = bytesTotal;
        for (int i = 0; i < 2; i++) {
            stage[i] = PinnedBuffer.allocate(STAGE_BYTES);
            drained[i] = new CUevent();
            check(JCudaDriver.cuEventCreate(drained[i], 0), "cuEventCreate(upload stage " + i + ")");
        }
    }

    /** Uploads {@code t} as bf16 into {@code dst} at byte {@code offset}; returns the bytes written. */
    long upload(Tensor t, DeviceBuffer dst, long offset) {
        String name = t.info().name();
        long outBytes = t.info().elementCount() * 2;
        if (offset + outBytes > dst.bytes()) {
            throw new IllegalStateException("tensor " + name + " (" + outBytes + " bytes) does not fit in " + dst.name()
                    + " at offset " + offset);
        }
        long written = 0;
        if (t.dtype() == DType.BF16) {
            for (int s = 0; s < t.segmentCount(); s++) {
                ByteBuffer seg = t.segment(s);
                int pos = 0;
                while (pos < seg.limit()) {
                    int n = Math.min(STAGE_BYTES, seg.limit() - pos);
                    ByteBuffer stageBuf = acquire();
                    stageBuf.put(0, seg, pos, n);
                    send(dst, offset + written, n);
                    pos += n;
                    written += n;
                    progress(n, name);
                }
            }
        } else {
            int cols = t.columns();
            float[] row = new float[cols];
            int rowsPerStage = Math.max(1, STAGE_BYTES / (cols * 2));
            long rows = t.rows();
            for (long r0 = 0; r0 < rows; r0 += rowsPerStage) {
                int nr = (int) Math.min(rowsPerStage, rows - r0);
                ByteBuffer stageBuf = acquire();
                for (int i = 0; i < nr; i++) {
                    t.readRow(r0 + i, row, 0);
                    for (int c = 0; c < cols; c++) stageBuf.putShort((i * cols + c) * 2, Bf16.fromFloat(row[c]));
                }
                int n = nr * cols * 2;
                send(dst, offset + written, n);
                written += n;
                progress((long) nr * t.rowBytes(), name);
            }
        }
        return written;
    }

    private ByteBuffer acquire() {
        if (pending[next]) {
            check(JCudaDriver.cuEventSynchronize(drained[next]), "cuEventSynchronize(upload stage " + next + ")");
            pending[next] = false;
        }
        return stage[next].buffer();
    }

    private void send(DeviceBuffer dst, long offset, int n) {
        dst.copyFromHostAsync(stage[next].pointer(), offset, n, stream);
        check(JCudaDriver.cuEventRecord(drained[next], stream), "cuEventRecord(upload stage " + next + ")");
        pending[next] = true;
        next ^= 1;
    }

    private void progress(long n, String tensor) {
        bytesDone += n;
        listener.onProgress(Math.min(bytesDone, bytesTotal), bytesTotal, tensor);
    }

    /** Waits for the last copies; the staging buffers must not be freed while the DMA reads them. */
    void finish() {
        check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize(weight upload)");
        pending[0] = pending[1] = false;
    }

    @Override
    public void close() {
        JCudaDriver.cuStreamSynchronize(stream);
        for (int i = 0; i < 2; i++) {
            JCudaDriver.cuEventDestroy(drained[i]);
            stage[i].close();
        }
    }
}
