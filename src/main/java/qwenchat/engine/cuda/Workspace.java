package qwenchat.engine.cuda;

import java.util.ArrayList;
import java.util.List;
import qwenchat.model.ModelConfig;

/**
 * Scratch buffers for one forward pass: up to {@link #rows} rows (at most {@link CudaKernels#MAX_ROWS})
 * through the GEMV and split-attention kernels, up to {@link #chunk} rows (a prefill chunk) through the tensor-core
 * GEMMs, whose operands are bf16 copies of the f32 activations. The per-step
 * inputs (tokens, slots, positions, logit rows) live here too, at fixed addresses, so a captured
 * CUDA graph reads whatever was copied in before its launch.
 */
final class Workspace implements AutoCloseable {
    /**
     * Decode rows per pass on a card of {@code deviceBytes}: all of {@link CudaKernels#MAX_ROWS} on
     * cards of 40 GiB or more, 64 below. The row-sized buffers (split-attention partials for the
     * whole context, logits, sampling) cost about 1.6 GiB more at 256 rows with the 7B's 32K context,
     * which a 24 GiB card would take out of its KV pool (61K tokens instead of 92K), while it could
     * not hold enough sequences to fill 256-row passes anyway.
     */
    static int decodeRows(long deviceBytes) {
        return deviceBytes >= 40L << 30 ? CudaKernels.MAX_ROWS : 64;
    }

    final int rows;               // decode rows per pass (GEMV, split attention, logits, sampling)
    final int chunk;              // rows of the GEMM path (>= R)
    final DeviceBuffer tokens;    // int [chunk]
    final DeviceBuffer slots;     // int [chunk]
    final DeviceBuffer positions; // int [chunk]
    final DeviceBuffer logitRows; // int [chunk]
    final DeviceBuffer x;         // f32 [chunk][hidden], the residual stream
    final DeviceBuffer xnb;       // bf16 [chunk][hidden]
    final DeviceBuffer qkvF32;    // f32 [chunk][qkvDim], GEMM output before bias/RoPE
    final DeviceBuffer ropeTable; // f32 [chunk][headDim/2][2], (cos, sin) of each row's position, once a GEMM-route pass
    final DeviceBuffer qGemm;     // f32 [chunk][qDim]
    final DeviceBuffer qb;        // bf16 [chunk][qDim], flash-attention input
    final DeviceBuffer attnb;     // bf16 [chunk][qDim]
    final DeviceBuffer actb;      // bf16 [chunk][intermediate]
    final DeviceBuffer splitParts; // f32 [splits][m][n] split-K parts of SkinnyGemm (m <= skinnyRows) and PrefillGemm; null without GEMMs
    final int skinnyRows;         // most rows one SkinnyGemm call takes
    final DeviceBuffer xn;        // f32 [R][hidden], normalised input of a projection
    final DeviceBuffer q;         // f32 [R][qDim]
    final DeviceBuffer attn;      // f32 [R][qDim]
    final DeviceBuffer act;       // f32 [R][intermediate]
    final DeviceBuffer partO;     // f32 [R][heads][splits][headDim]
    final DeviceBuffer partMl;    // f32 [R][heads][splits][2]
    final DeviceBuffer attnCounters; // int [R][kvHeads] split counts of the fused attention, 0 between launches
    final DeviceBuffer logits;    // f32 [R][vocab]
    final DeviceBuffer topIds;    // int [R][MAX_TOPK]
    final DeviceBuffer topLogprobs; // f32 [R][MAX_TOPK]
    final DeviceBuffer lse;       // f32 [R]
    final DeviceBuffer argmaxPart; // f32 [R][ARGMAX_CHUNKS][3]
    final DeviceBuffer invFreq;   // f32 [headDim/2]
    // Sampling (see sampling.cu): processed logits, per-row parameters, penalty entries, candidates.
    final DeviceBuffer proc;      // f32 [R][vocab]
    final DeviceBuffer sampleParams; // int mode[R], float rep[R], float temp[R], int topK[R], int off[R+1]
    final DeviceBuffer penaltyIds;   // int [R * maxPenaltyEntries]
    final DeviceBuffer penaltyFlags; // int [same]
    final DeviceBuffer penaltyDelta; // f32 [same]
    final DeviceBuffer candCount;    // int [R]
    final DeviceBuffer candIds;      // int [R][MAX_CANDIDATES]
    final DeviceBuffer candVals;     // f32 [R][MAX_CANDIDATES]
    final int maxPenaltyEntries;
    final int splits;
    private final List<DeviceBuffer> all = new ArrayList<>();

    /** Largest prefill chunk: an 8K prompt in one pass (the 2048-row chunks measured 249 ms TTFT at 8K). */
    static final int MAX_CHUNK = 8192;

    /** Rows per prefill chunk: the flash-attention kernel needs head_dim 128, else chunks use split attention. */
    static int chunkRows(ModelConfig c, int maxTokens, boolean gemm, int rows) {
        return gemm && c.headDim() == PrefillAttention.HEAD_DIM ? Math.max(rows, Math.min(MAX_CHUNK, maxTokens)) : rows;
    }

    /** Rows a SkinnyGemm call may take: a whole decode pass, or a prefill tail of up to its batch tile. */
    static int skinnyRows(int rows) {
        return Math.max(rows, SkinnyGemm.MAX_ROWS);
    }

    /** One part buffer serves both GEMM families: their calls run one after another on the stream. */
    static long splitPartFloats(int rows) {
        return Math.max(SkinnyGemm.partialFloats(skinnyRows(rows)), PrefillGemm.partialFloats());
    }

    static long bytes(ModelConfig c, int maxTokens, boolean gemm, int rows) {
        final long R = rows;
        long skinny = gemm ? 4L * splitPartFloats(rows) : 0;
        long splits = CudaKernels.splitsFor(maxTokens);
        long h = c.hiddenSize();
        long ch = chunkRows(c, maxTokens, gemm, rows);
        long gemmRows = ch * (4L * 4 + 4 * h + 2 * h + 4L * c.qkvDim() + 4L * c.headDim() + 4L * c.qDim() + 2L * c.qDim()
                + 2L * c.qDim() + 2L * c.intermediateSize());
        return gemmRows + skinny + R * (4 * h + 4L * c.qDim() + 4L * c.qDim() + 4L * c.intermediateSize()
                + 4L * c.numAttentionHeads() * splits * c.headDim() + 8L * c.numAttentionHeads() * splits
                + 4L * c.numKeyValueHeads()
                + 4L * c.vocabSize() + 8L * CudaKernels.MAX_TOPK + 4 + 12L * CudaKernels.ARGMAX_CHUNKS
                + 4L * c.vocabSize() + 24 + 12L * Math.min(c.vocabSize(), maxTokens) + 8L * CudaKernels.MAX_CANDIDATES)
                + 4L * c.headDim() / 2;
    }

    Workspace(ModelConfig c, int maxTokens, boolean gemm, int rows) {
        if (rows < 1 || rows > CudaKernels.MAX_ROWS) {
            throw new IllegalArgumentException("decode rows must be 1.." + CudaKernels.MAX_ROWS + ", got " + rows);
        }
        this.rows = rows;
        final long R = rows;
        splits = CudaKernels.splitsFor(maxTokens);
        chunk = chunkRows(c, maxTokens, gemm, rows);
        skinnyRows = skinnyRows(rows);
        long h = c.hiddenSize();
        try {
            tokens = alloc("rows.tokens", 4L * chunk);
            slots = alloc("rows.slots", 4L * chunk);
            positions = alloc("rows.positions", 4L * chunk);
            logitRows = alloc("rows.logitRows", 4L * chunk);
            x = alloc("x (residual)", 4L * chunk * h);
            xnb = alloc("xn bf16", 2L * chunk * h);
            qkvF32 = alloc("qkv f32", 4L * chunk * c.qkvDim());
            ropeTable = alloc("rope table", 4L * chunk * c.headDim());
            qGemm = alloc("q f32 (gemm path)", 4L * chunk * c.qDim());
            qb = alloc("q bf16", 2L * chunk * c.qDim());
            attnb = alloc("attention out bf16", 2L * chunk * c.qDim());
            actb = alloc("mlp act bf16", 2L * chunk * c.intermediateSize());
            splitParts = gemm ? alloc("GEMM split-K parts", 4L * splitPartFloats(rows)) : null;
            xn = alloc("xn (normed)", 4L * R * h);
            q = alloc("q", 4L * R * c.qDim());
            attn = alloc("attention out", 4L * R * c.qDim());
            act = alloc("mlp act", 4L * R * c.intermediateSize());
            partO = alloc("attention partial o", 4L * R * c.numAttentionHeads() * splits * c.headDim());
            partMl = alloc("attention partial m/l", 8L * R * c.numAttentionHeads() * splits);
            attnCounters = alloc("attention split counters", 4L * R * c.numKeyValueHeads());
            attnCounters.zero();
            logits = alloc("logits", 4L * R * c.vocabSize());
            topIds = alloc("top ids", 4L * R * CudaKernels.MAX_TOPK);
            topLogprobs = alloc("top logprobs", 4L * R * CudaKernels.MAX_TOPK);
            lse = alloc("logsumexp", 4L * R);
            argmaxPart = alloc("argmax partials", 12L * R * CudaKernels.ARGMAX_CHUNKS);
            invFreq = alloc("rope inv_freq", 4L * c.headDim() / 2);
            maxPenaltyEntries = Math.min(c.vocabSize(), maxTokens);
            proc = alloc("processed logits", 4L * R * c.vocabSize());
            sampleParams = alloc("sampling parameters", 4L * (5 * R + 1));
            penaltyIds = alloc("penalty ids", 4L * R * maxPenaltyEntries);
            penaltyFlags = alloc("penalty flags", 4L * R * maxPenaltyEntries);
            penaltyDelta = alloc("penalty deltas", 4L * R * maxPenaltyEntries);
            candCount = alloc("candidate counts", 4L * R);
            candIds = alloc("candidate ids", 4L * R * CudaKernels.MAX_CANDIDATES);
            candVals = alloc("candidate logits", 4L * R * CudaKernels.MAX_CANDIDATES);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private DeviceBuffer alloc(String name, long bytes) {
        DeviceBuffer b = DeviceBuffer.allocate(name, bytes);
        all.add(b);
        return b;
    }

    long totalBytes() {
        long n = 0;
        for (DeviceBuffer b : all) n += b.bytes();
        return n;
    }

    @Override
    public void close() {
        for (DeviceBuffer b : all) b.close();
    }
}
