package qwenchat.engine.cuda;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import jcuda.Pointer;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.JCudaDriver;
import qwenchat.engine.BiasMask;
import qwenchat.engine.EngineException;
import qwenchat.engine.EngineInfo;
import qwenchat.engine.GpuMemory;
import qwenchat.engine.InferenceEngine;
import qwenchat.engine.KvBlockUsage;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.LabPass;
import qwenchat.engine.LabProbe;
import qwenchat.engine.LoadProgressListener;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.StepRequest;
import qwenchat.engine.cpu.Rope;
import qwenchat.engine.kv.KvBlockManager;
import qwenchat.engine.kv.KvCacheSizing;
import qwenchat.model.ModelConfig;
import qwenchat.weights.Checkpoint;

/**
 * Qwen2 inference on one NVIDIA GPU through our own kernels: load, forward and KV. All device work
 * runs inside {@link CudaContext#call}, on the calling thread with the context's lock held. Prefill runs in
 * chunks through the tensor-core GEMMs and flash attention (or the decode kernels where those do not
 * fit); decode batches replay CUDA graphs. The KV cache is paged: a {@link KvBlockManager} decides
 * which pool blocks each sequence holds, {@link DeviceKvCache} mirrors that into the device block
 * table before every step, and a step whose blocks are not free fails before anything changes.
 * Token choice lives in {@link DeviceSampling}.
 */
public final class CudaEngine implements InferenceEngine {

    /**
     * @param graphs replay captured CUDA graphs for decode steps (off only for debugging)
     * @param gemm use the tensor-core GEMMs for prefill chunks and large decode batches (off: every
     *     pass goes through the GEMV kernels, as a cross-check)
     * @param alignedChunks cut prefills longer than the workspace at whole 128-row tiles (see
     *     {@link #chunkLength}); off: at the workspace's rows, whatever they are
     * @param skinny send passes of 16-64 rows (wide decode batches, short prefill tails) through
     *     {@link SkinnyGemm} instead of the prefill GEMM; only with {@code gemm}
     * @param batchInvariant a row's logits do not depend on its batch mates or on how its prompt
     *     was chunked: every decode pass and every logits row through one projection family
     *     ({@link ProjectionRoute}); needs {@code gemm} and a model the tensor-core GEMMs fit
     * @param kernels which decode kernel variants run (attention group buckets, fused combine, folded norm)
     * @param prefillTiles which causal flash attention kernel each prefill chunk takes
     */
    public record Options(int device, boolean graphs, boolean gemm, boolean alignedChunks, boolean skinny,
                          boolean batchInvariant, DecodeKernels kernels, PrefillAttention.Tiles prefillTiles) {
        /** Whether {@link #defaults()} routes 16-64-row passes through {@link SkinnyGemm}. */
        public static final boolean SKINNY_DEFAULT = true;
        /** Whether {@link #defaults()} is batch-invariant (the {@code qwen.batch-invariant} default). */
        public static final boolean BATCH_INVARIANT_DEFAULT = false;

        public Options {
            if (kernels == null) throw new IllegalArgumentException("engine options need the decode kernel choice");
            if (prefillTiles == null) throw new IllegalArgumentException("engine options need the prefill attention tiles");
        }

        public Options(int device, boolean graphs, boolean gemm, boolean alignedChunks, boolean skinny, boolean batchInvariant) {
            this(device, graphs, gemm, alignedChunks, skinny, batchInvariant, DecodeKernels.defaults(),
                    PrefillAttention.Tiles.DEFAULT);
        }

        public Options(int device, boolean graphs) {
            this(device, graphs, true, true, SKINNY_DEFAULT, BATCH_INVARIANT_DEFAULT);
        }

        public Options(int device, boolean graphs, boolean gemm) {
            this(device, graphs, gemm, true, SKINNY_DEFAULT, BATCH_INVARIANT_DEFAULT);
        }

        public Options(int device, boolean graphs, boolean gemm, boolean alignedChunks) {
            this(device, graphs, gemm, alignedChunks, SKINNY_DEFAULT, BATCH_INVARIANT_DEFAULT);
        }

        public static Options defaults() {
            return new Options(0, true, true, true, SKINNY_DEFAULT, BATCH_INVARIANT_DEFAULT);
        }

        /** These options on another device. */
        public Options withDevice(int ordinal) {
            return new Options(ordinal, graphs, gemm, alignedChunks, skinny, batchInvariant, kernels, prefillTiles);
        }

        /** These options with batch invariance on or off. */
        public Options withBatchInvariant(boolean on) {
            return new Options(device, graphs, gemm, alignedChunks, skinny, on, kernels, prefillTiles);
        }

        /** These options with other decode kernel variants. */
        public Options withKernels(DecodeKernels choice) {
            return new Options(device, graphs, gemm, alignedChunks, skinny, batchInvariant, choice, prefillTiles);
        }

        /** These options with another choice of prefill attention kernel. */
        public Options withPrefillTiles(PrefillAttention.Tiles tiles) {
            return new Options(device, graphs, gemm, alignedChunks, skinny, batchInvariant, kernels, tiles);
        }
    }

    /** Device memory kept free beyond what we allocate: context, module, graphs, fragmentation. */
    static final long RESERVE_BYTES = 512L << 20;

    /**
     * JVM system property capping the device memory the engine believes it has, in bytes: e.g.
     * 25769803776 on an 80 GB H100 rehearses a 24 GB card (sizing and the load-time check use the
     * smaller number). Unset or 0: the real total.
     */
    public static final String SIMULATE_DEVICE_MEMORY = "qwen.cuda.simulate-device-memory-bytes";

    private final ModelConfig config;
    private final KvCacheCapacity capacity;
    private final Options options;
    private final CudaContext ctx;
    private KernelModule module;
    private DeviceWeights weights;
    private DeviceKvCache kv;
    private Workspace ws;
    private ForwardPass forward;
    private CudaKernels kernels;
    private PinnedBuffer io;
    private DeviceSampling sampling;
    /** Allocated at the first bias-lab pass. */
    private BiasLabDevice lab;
    /** Whether a step's decodes may ride a prefill chunk's pass ({@link DecodeKernels#mixedSteps}). */
    private boolean mixedPasses;
    /** Steps run as one mixed pass so far; tests read it to know the path was taken. */
    private int mixedStepsRun;
    private final SequenceTable seqs;
    private final KvBlockManager blocks;
    private EngineInfo info;

    private CudaEngine(ModelConfig config, KvCacheCapacity capacity, Options options, CudaContext ctx) {
        this.config = config;
        this.capacity = capacity;
        this.options = options;
        this.ctx = ctx;
        this.seqs = new SequenceTable(capacity.maxSequences());
        this.blocks = new KvBlockManager(capacity);
    }

    public static CudaEngine load(ModelConfig config, Checkpoint checkpoint, KvCacheCapacity capacity,
                                  LoadProgressListener listener) {
        return load(config, checkpoint, capacity, listener, Options.defaults());
    }

    public static CudaEngine load(ModelConfig config, Checkpoint checkpoint, KvCacheCapacity capacity,
                                  LoadProgressListener listener, Options options) {
        checkShapes(config, capacity);
        checkpoint.validateAgainst(config);
        CudaContext ctx = CudaContext.create(options.device());
        CudaEngine e = new CudaEngine(config, capacity, options, ctx);
        try {
            ctx.run(() -> e.init(checkpoint, listener));
        } catch (RuntimeException | Error err) {
            try {
                e.close();
            } catch (RuntimeException suppressed) {
                err.addSuppressed(suppressed);
            }
            throw err;
        }
        return e;
    }

    /** What the kernels require of the shapes; every Qwen2.5 size meets it. */
    static void checkShapes(ModelConfig c, KvCacheCapacity cap) {
        List<String> bad = new ArrayList<>();
        if (c.hiddenSize() % 8 != 0) bad.add("hidden_size " + c.hiddenSize() + " is not a multiple of 8");
        if (c.intermediateSize() % 8 != 0) bad.add("intermediate_size " + c.intermediateSize() + " is not a multiple of 8");
        if (c.headDim() != 64 && c.headDim() != 128) bad.add("head_dim " + c.headDim() + " is not 64 or 128");
        if (c.numAttentionHeads() % c.numKeyValueHeads() != 0) {
            bad.add("num_attention_heads " + c.numAttentionHeads() + " is not a multiple of num_key_value_heads "
                    + c.numKeyValueHeads());
        } else if (c.groupSize() > CudaKernels.ATTN_MAX_GROUP) {
            bad.add("query heads per KV head " + c.groupSize() + " exceeds " + CudaKernels.ATTN_MAX_GROUP);
        }
        if (cap.maxTokensPerSequence() > c.contextLength()) {
            bad.add("maxTokensPerSequence " + cap.maxTokensPerSequence() + " exceeds the model's context length "
                    + c.contextLength());
        }
        if (!bad.isEmpty()) throw new EngineException("the CUDA engine cannot run this model: " + String.join("; ", bad));
    }

    private void init(Checkpoint checkpoint, LoadProgressListener listener) {
        module = KernelModule.load();
        long weightBytes = DeviceWeights.deviceBytes(config);
        int blockSize = capacity.blockSize();
        long kvBytes = DeviceKvCache.totalBytes(config, blockSize, capacity.totalBlocks());
        long tableBytes = DeviceKvCache.tableBytes(capacity.maxSequences(), capacity.maxBlocksPerSequence());
        boolean gemmChunks = ForwardPass.gemmFits(config) && options.gemm();
        long staging = 2L * WeightUploader.STAGE_BYTES;
        long[] mem = ctx.memoryInfo();
        long total = deviceMemory(mem[1]);
        int decodeRows = Workspace.decodeRows(total);
        long wsBytes = Workspace.bytes(config, capacity.maxTokensPerSequence(), gemmChunks, decodeRows);
        // What the card (or the simulated smaller one) still has: the context already took total - free.
        long free = Math.min(mem[0], total - (mem[1] - mem[0]));
        long need = weightBytes + kvBytes + tableBytes + wsBytes + RESERVE_BYTES;
        if (need > free) {
            throw new EngineException(String.format(
                    "not enough device memory on %s: need %.2f GiB (weights %.2f GiB + KV cache %.2f GiB in %d blocks of %d"
                            + " tokens for up to %d sequences + workspace %.2f GiB + reserve %.2f GiB) but only %.2f GiB of"
                            + " %.2f GiB is free%s; lower qwen.kv-cache-bytes, qwen.gpu-memory-utilization or the"
                            + " tokens per sequence",
                    ctx.deviceName(), gib(need), gib(weightBytes), gib(kvBytes), capacity.totalBlocks(), blockSize,
                    capacity.maxSequences(), gib(wsBytes + tableBytes), gib(RESERVE_BYTES), gib(free), gib(total),
                    total < mem[1] ? " (simulated by " + SIMULATE_DEVICE_MEMORY + ")" : ""));
        }
        long fileBytes = 0;
        for (String n : DeviceWeights.tensorNames(config)) fileBytes += checkpoint.info(n).byteLength();
        try (WeightUploader up = new WeightUploader(ctx.stream(), listener, fileBytes)) {
            weights = DeviceWeights.upload(config, checkpoint, up);
        }
        kv = new DeviceKvCache(config, blockSize, capacity.totalBlocks(), capacity.maxSequences(),
                capacity.maxBlocksPerSequence());
        System.getLogger(CudaEngine.class.getName()).log(System.Logger.Level.INFO,
                new KvCacheSizing(DeviceKvCache.blockBytes(config, blockSize) / blockSize, blockSize, capacity.totalBlocks(),
                        config.contextLength()).logLine() + " on " + ctx.deviceName());
        ws = new Workspace(config, capacity.maxTokensPerSequence(), gemmChunks, decodeRows);
        // The CPU engine's table, so both engines rotate by the very same float32 frequencies.
        Rope rope = Rope.of(config);
        ws.invFreq.copyFromHost(rope.invFreq());
        kernels = new CudaKernels(module, ctx.stream(), options.kernels(), dependentLaunch());
        PrefillGemm gemm = gemmChunks
                ? new PrefillGemm(module, ctx.stream(), ctx.computeCapability(), options.batchInvariant(), ctx.multiprocessors(),
                        ws.splitParts.ptr()) : null;
        // Split-K parts are summed by the separate reduce launch (null counters, so the workspace holds
        // none): on an H100 the in-kernel last-part sum made the 32-sequence step's f32 projections 51 us
        // each against 33 + 5.5 for the reduce launch (same bits either way; SkinnyGemmTest).
        SkinnyGemm skinny = gemmChunks && options.skinny()
                ? new SkinnyGemm(module, ctx.stream(), ctx.multiprocessors(), ws.splitParts.ptr(), null,
                        ws.skinnyRows) : null;
        forward = new ForwardPass(config, weights, kv, ws, kernels, gemm, skinny, new PrefillAttention(module, ctx.stream(),
                PrefillGemm.usesWgmma(ctx.computeCapability()), options.prefillTiles()),
                ctx.stream(), rope.attentionScaling(), options.batchInvariant(), options.kernels(), ctx.multiprocessors());
        io = PinnedBuffer.allocate(16L * ws.chunk);
        // Batch invariance keeps decode rows on their own projection family, which a chunk's pass is not.
        mixedPasses = options.kernels().mixedSteps() && !options.batchInvariant() && gemmChunks;
        sampling = new DeviceSampling(ctx, kernels, ws, seqs, config.vocabSize());
        ctx.synchronize();
        // Read once everything is allocated: the pool and workspace are fixed from here on.
        long[] loaded = ctx.memoryInfo();
        info = new EngineInfo("cuda", ctx.deviceName(), ctx.computeCapability(), ctx.driverVersion(), weights.bytes(),
                kvBytes, ws.totalBytes() + tableBytes + staging, total,
                List.of(new GpuMemory(options.device(), ctx.deviceName(), loaded[1] - loaded[0], total)));
    }

    /**
     * The dependent launcher where {@link DecodeKernels#dependentLaunch} asks for it and the card
     * (compute capability 9.0 and up), the JDK and the driver allow it; null otherwise, and the log
     * says why not.
     */
    private DependentLaunch dependentLaunch() {
        if (!options.kernels().dependentLaunch()) return null;
        if (ctx.computeCapabilityMajor() < 9) return null;
        System.Logger log = System.getLogger(CudaEngine.class.getName());
        java.util.function.Consumer<String> without = why -> log.log(System.Logger.Level.INFO,
                "kernels launched one after another, without programmatic dependent launch: " + why);
        DependentLaunch d = DependentLaunch.load(without).orElse(null);
        String failed = d == null ? null : d.selfTest(module, ctx.stream());
        if (failed == null) return d;
        without.accept(failed);
        return null;
    }

    /** For tests: whether this engine launches its waiting kernels as dependent launches. */
    boolean dependentLaunches() {
        return kernels.launcher().dependentLaunches();
    }

    /** The device's memory as the engine should see it: {@code real}, or less under {@link #SIMULATE_DEVICE_MEMORY}. */
    static long deviceMemory(long real) {
        String v = System.getProperty(SIMULATE_DEVICE_MEMORY, "").trim();
        if (v.isEmpty()) return real;
        long cap;
        try {
            cap = Long.parseLong(v.replace("_", ""));
        } catch (NumberFormatException e) {
            throw new EngineException(SIMULATE_DEVICE_MEMORY + " must be a byte count, got '" + v + "'");
        }
        if (cap < 0) throw new EngineException(SIMULATE_DEVICE_MEMORY + " must be >= 0, got " + cap);
        return cap == 0 ? real : Math.min(real, cap);
    }

    /**
     * Device bytes everything but the KV pool takes for this model: weights, workspace for
     * sequences of up to {@code maxTokensPerSequence} tokens, the block table, upload staging and
     * the reserve: what a one-GPU {@link CudaPlacement} subtracts from the allowed memory.
     */
    public static long bytesBesideKv(ModelConfig c, int maxSequences, int maxTokensPerSequence, int blockSize,
            long deviceBytes) {
        return DeviceWeights.deviceBytes(c) + workspaceBytes(c, maxSequences, maxTokensPerSequence, blockSize, deviceBytes);
    }

    /**
     * Device bytes beside weights and the KV pool: workspace for sequences of up to
     * {@code maxTokensPerSequence} tokens, the block table, upload staging and the reserve.
     */
    static long workspaceBytes(ModelConfig c, int maxSequences, int maxTokensPerSequence, int blockSize,
            long deviceBytes) {
        boolean gemm = ForwardPass.gemmFits(c);
        int perSeq = (int) (((long) maxTokensPerSequence + blockSize - 1) / blockSize);
        return Workspace.bytes(c, maxTokensPerSequence, gemm, Workspace.decodeRows(deviceBytes))
                + DeviceKvCache.tableBytes(maxSequences, perSeq) + 2L * WeightUploader.STAGE_BYTES + RESERVE_BYTES;
    }

    /**
     * The KV pool bytes for this model on device {@code device} when the process may use
     * {@code utilization} of the device's memory (vLLM's gpu_memory_utilization): total (or the
     * simulated total) times utilization, less what the CUDA context already holds and
     * {@link #bytesBesideKv}: the one-GPU {@link CudaPlacement}. Opens and closes a context of its
     * own to read the numbers.
     *
     * @throws EngineException naming the numbers when the model and one KV block do not fit
     */
    public static long kvBudgetBytes(int device, ModelConfig c, double utilization, int maxSequences,
                                     int maxTokensPerSequence, int blockSize) {
        CudaPlacement.Sizing sizing = new CudaPlacement.Sizing(utilization, maxSequences, maxTokensPerSequence, blockSize);
        return CudaPlacement.plan(c, CudaPlacement.probe(List.of(device)), sizing).first().kvBudgetBytes();
    }

    private static double gib(long b) {
        return b / (double) (1L << 30);
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    @Override
    public EngineInfo info() {
        return info;
    }

    @Override
    public KvCacheCapacity capacity() {
        return capacity;
    }

    @Override
    public KvBlockUsage kvUsage() {
        return blocks.usage();
    }

    @Override
    public int openSequence() {
        int s = blocks.openSequence();
        seqs.open(s);
        return s;
    }

    @Override
    public void freeSequence(int sequence) {
        if (!blocks.isOpen(sequence)) return;
        blocks.freeSequence(sequence);
        seqs.free(sequence);
        kv.forget(sequence);
    }

    @Override
    public int sequenceLength(int sequence) {
        return blocks.sequenceLength(sequence);
    }

    /**
     * How much slower, per FLOP, the prefill flash attention runs than the prefill GEMMs. Measured on
     * an H100 with the 7B: prefills of 8K and 32K tokens (254 and 1852 ms) fit t = a n + b n^2 / 2
     * with a / b = 9,650 tokens, where the FLOP ratio ({@link #attentionBreakEvenOf}
     * without this factor) is 32,500. The server agreed: with 16 streams decoding beside a 32K
     * prompt at a budget of 2048, the break-even this gives (9,754) kept their inter-token p99 at
     * 64 ms where 16,000 let it reach 86, and at the default budget of 1792 it held them to 56.5 ms
     * (docs/performance.md).
     */
    static final double FLASH_SPEED_PER_FLOP = 0.30;

    @Override
    public int attentionBreakEven() {
        return attentionBreakEvenOf(config);
    }

    /**
     * A token's projection FLOPs (2 h (qkv + q + 3 ffn)) over its attention FLOPs per earlier token
     * (4 heads headDim: q.k and p.v), scaled by {@link #FLASH_SPEED_PER_FLOP}.
     */
    public static int attentionBreakEvenOf(ModelConfig c) {
        double projection = 2.0 * c.hiddenSize() * (c.qkvDim() + c.qDim() + 3.0 * c.intermediateSize());
        double attentionPerKey = 4.0 * c.numAttentionHeads() * c.headDim();
        return (int) Math.max(1, Math.round(projection / attentionPerKey * FLASH_SPEED_PER_FLOP));
    }

    @Override
    public int openSequenceCount() {
        return blocks.openSequenceCount();
    }

    /**
     * Takes the blocks a step's tokens need, all or nothing, before any compute: a step that does
     * not fit throws {@link qwenchat.engine.KvCacheFullException} and leaves every sequence as it was.
     */
    private void reserve(int[] sequences, int[] tokens) {
        blocks.appendAll(sequences, tokens);
    }

    /** Uploads the block table rows of the step's sequences (inside the context's call, before the step's kernels). */
    private void syncTables(int[] sequences) {
        for (int s : sequences) kv.syncTable(s, blocks.blockIds(s), ctx.stream());
    }

    // ---- forward passes (inside the context's call) ----

    // Pinned staging layout: tokens, slots, positions and logit rows ([chunk] ints each).

    /** Recorded after each stage's copies; set once those copies are queued and not yet known done. */
    private CUevent staged;
    private boolean stagePending;

    /**
     * Copies the rows' inputs to the workspace (async, on the stream); returns the longest attended
     * length. The pinned buffer is rewritten only after the stream has taken the previous stage's
     * copies: a long prompt's chunks are queued faster than the GPU runs them, and a copy still
     * waiting behind the previous chunk's kernels would otherwise read the next chunk's rows.
     */
    private int stage(int n, int[] tokens, int[] slots, int[] pos, int[] logitRows, int nLogit) {
        if (staged == null) {
            staged = new CUevent();
            CudaCheck.check(JCudaDriver.cuEventCreate(staged, CUevent_flags.CU_EVENT_DISABLE_TIMING), "cuEventCreate(staging)");
        }
        if (stagePending) CudaCheck.check(JCudaDriver.cuEventSynchronize(staged), "cuEventSynchronize(staging)");
        ByteBuffer b = io.buffer();
        int c = ws.chunk;
        int maxLen = 0;
        for (int i = 0; i < n; i++) {
            b.putInt(4 * i, tokens[i]);
            b.putInt(4 * (c + i), slots[i]);
            b.putInt(4 * (2 * c + i), pos[i]);
            maxLen = Math.max(maxLen, pos[i] + 1);
        }
        for (int i = 0; i < nLogit; i++) b.putInt(4 * (3 * c + i), logitRows[i]);
        Pointer p = io.pointer();
        ws.tokens.copyFromHostAsync(p, 0, 4L * n, ctx.stream());
        ws.slots.copyFromHostAsync(p.withByteOffset(4L * c), 0, 4L * n, ctx.stream());
        ws.positions.copyFromHostAsync(p.withByteOffset(8L * c), 0, 4L * n, ctx.stream());
        if (nLogit > 0) ws.logitRows.copyFromHostAsync(p.withByteOffset(12L * c), 0, 4L * nLogit, ctx.stream());
        CudaCheck.check(JCudaDriver.cuEventRecord(staged, ctx.stream()), "cuEventRecord(staging)");
        stagePending = true;
        return maxLen;
    }

    private void checkTokens(int[] tokens) {
        for (int t : tokens) {
            if (t < 0 || t >= config.vocabSize()) {
                throw new IllegalArgumentException("token id " + t + " outside the vocabulary 0.." + (config.vocabSize() - 1));
            }
        }
    }

    private float[][] readLogits(int rows) {
        int v = config.vocabSize();
        float[][] out = new float[rows][v];
        ctx.synchronize();
        for (int r = 0; r < rows; r++) ws.logits.copyToHost(Pointer.to(out[r]), 4L * r * v, 4L * v);
        return out;
    }

    /**
     * Rows of the next prefill pass: all that remain when they fit the workspace, else the
     * workspace's rows in whole 128-row GEMM tiles. Every pass streams every weight again (about
     * 5 ms on the 7B) and a pass of a few rows attends to the whole prefix with one tile of queries,
     * so a short rest costs less as the partial last tile of a single pass than as passes of its own:
     * on the H100 a 32K prompt prefilled by the scheduler in chunks of 480-1855 tokens took 3.5 s when
     * each chunk was cut into whole tiles plus a narrow tail, against 1.9 s in chunks of 2048. Rows
     * are independent in every kernel, so the cut changes no logit (the 7B parity runs compared both).
     */
    static int chunkLength(int remaining, int max) {
        if (remaining <= max) return remaining;
        return max >= 128 ? max - max % 128 : max;
    }

    /**
     * Runs a prefill in chunks of up to ws.chunk rows; logits of the wanted rows are computed 64 at a time
     * and fetched into {@code sink}; without a sink the last row's logits stay in ws.logits row 0.
     */
    private void prefillChunks(int seq, int[] tokens, boolean allPositions, List<float[]> sink) {
        prefillChunks(seq, tokens, allPositions, sink, null, false, true);
    }

    /**
     * @param mask every row's bias mask (a bias-lab pass), or null
     * @param probe measure the last row of the last chunk (into {@link #lab})
     * @param lastLogits whether the last row's logits are wanted (false: a chunk that picks nothing
     *     stores its keys and values only)
     */
    private void prefillChunks(int seq, int[] tokens, boolean allPositions, List<float[]> sink, BiasMask mask,
            boolean probe, boolean lastLogits) {
        int max = ws.chunk;
        int[] slots = new int[max];
        int[] pos = new int[max];
        int[] logitRows = new int[max];
        for (int from = 0, n; from < tokens.length; from += n) {
            n = options.alignedChunks() ? chunkLength(tokens.length - from, max) : Math.min(max, tokens.length - from);
            int start = seqs.length(seq);  // tokens computed so far; the manager already counts the whole step
            Arrays.fill(slots, 0, n, seq);
            for (int i = 0; i < n; i++) pos[i] = start + i;
            boolean last = from + n == tokens.length;
            int nLogit = 0;
            if (allPositions) {
                for (int i = 0; i < n; i++) logitRows[nLogit++] = i;
            } else if (last && (lastLogits || probe)) {
                logitRows[nLogit++] = n - 1;
            }
            stage(n, Arrays.copyOfRange(tokens, from, from + n), slots, pos, logitRows, nLogit);
            forward.currentSlot = seq;
            if (mask != null || probe && last) {
                BiasMask[] rows = new BiasMask[n];
                Arrays.fill(rows, mask);
                labDevice().begin(rows, n, probe && last ? n - 1 : -1);
                forward.lab = lab;
            }
            try {
                forward.prefill(n, start, firstOutputRow(logitRows, nLogit, n));
            } finally {
                forward.lab = null;
            }
            seqs.append(seq, tokens, from, n, false);
            for (int g = 0; g < nLogit; g += ws.rows) {
                int cnt = Math.min(ws.rows, nLogit - g);
                forward.logits(g, cnt);
                if (sink != null) sink.addAll(Arrays.asList(readLogits(cnt)));
            }
        }
    }

    /**
     * The first row of a {@code rows}-row pass whose logits are read ({@code rows} for none): rows
     * before it have no use for the last layer's output ({@link ForwardPass#prefill}).
     */
    private static int firstOutputRow(int[] logitRows, int nLogit, int rows) {
        int first = rows;
        for (int i = 0; i < nLogit; i++) first = Math.min(first, logitRows[i]);
        return first;
    }

    @Override
    public float[][] prefillLogits(int sequence, int[] tokens, boolean allPositions) {
        if (tokens.length == 0) throw new IllegalArgumentException("prefill needs at least one token");
        checkTokens(tokens);
        reserve(new int[] {sequence}, new int[] {tokens.length});
        return ctx.call(() -> {
            syncTables(new int[] {sequence});
            List<float[]> out = new ArrayList<>();
            prefillChunks(sequence, tokens, allPositions, out);
            return out.toArray(new float[0][]);
        });
    }

    @Override
    public float[][] decodeLogits(int[] sequences, int[] tokens) {
        checkDecode(sequences, tokens);
        int[] ones = new int[sequences.length];
        Arrays.fill(ones, 1);
        reserve(sequences, ones);
        return ctx.call(() -> {
            syncTables(sequences);
            float[][] out = new float[sequences.length][];
            for (int from = 0; from < sequences.length; from += ws.rows) {
                int n = Math.min(ws.rows, sequences.length - from);
                decodeBatch(sequences, tokens, from, n);
                float[][] part = readLogits(n);
                System.arraycopy(part, 0, out, from, n);
            }
            return out;
        });
    }

    private void checkDecode(int[] sequences, int[] tokens) {
        if (sequences.length != tokens.length) {
            throw new IllegalArgumentException(sequences.length + " sequences but " + tokens.length + " tokens");
        }
        checkTokens(tokens);
        boolean[] seen = new boolean[capacity.maxSequences()];
        for (int s : sequences) {
            seqs.requireOpen(s);
            if (seen[s]) throw new IllegalArgumentException("sequence " + s + " appears twice in one decode step");
            seen[s] = true;
        }
    }

    /** One graph-replayed decode pass over sequences[from..from+n); logits for every row. */
    private void decodeBatch(int[] sequences, int[] tokens, int from, int n) {
        decodeBatch(sequences, tokens, from, n, null);
    }

    /** @param masks bias-lab masks of sequences[i] (null entries, or null: none); a masked pass runs without graphs */
    private void decodeBatch(int[] sequences, int[] tokens, int from, int n, BiasMask[] masks) {
        int[] tok = new int[n];
        int[] slots = new int[n];
        int[] pos = new int[n];
        int[] logitRows = new int[n];
        for (int i = 0; i < n; i++) {
            int s = sequences[from + i];
            tok[i] = tokens[from + i];
            slots[i] = s;
            pos[i] = seqs.length(s);
            logitRows[i] = i;
        }
        int maxLen = stage(n, tok, slots, pos, logitRows, n);
        BiasMask[] rowMasks = null;
        for (int i = 0; masks != null && i < n; i++) {
            if (masks[from + i] == null) continue;
            if (rowMasks == null) rowMasks = new BiasMask[n];
            rowMasks[i] = masks[from + i];
        }
        if (rowMasks != null) {
            labDevice().begin(rowMasks, n, -1);
            forward.lab = lab;
        }
        try {
            forward.decode(n, n, maxLen, rowMasks == null && options.graphs() && module.timer() == null);
        } finally {
            forward.lab = null;
        }
        for (int i = 0; i < n; i++) seqs.append(sequences[from + i], tokens, from + i, 1, true);
    }

    private BiasLabDevice labDevice() {
        if (lab == null) lab = new BiasLabDevice(config, weights, kv, ws, kernels, ctx.stream());
        return lab;
    }

    // ---- step: sampling on the GPU ----

    @Override
    public List<SampledToken> step(List<StepRequest> requests) {
        List<Integer> decodes = new ArrayList<>();
        int[] all = new int[requests.size()];
        int[] counts = new int[requests.size()];
        for (int i = 0; i < requests.size(); i++) {
            StepRequest r = requests.get(i);
            checkTokens(r.tokens());
            if (r.lab() != null) r.lab().requireLayers(config.numHiddenLayers());
            seqs.requireOpen(r.sequence());
            all[i] = r.sequence();
            counts[i] = r.tokens().length;
            if (!r.prefill()) decodes.add(i);
        }
        int[] dseqs = new int[decodes.size()];
        int[] dtoks = new int[decodes.size()];
        BiasMask[] dmasks = new BiasMask[decodes.size()];
        for (int j = 0; j < dseqs.length; j++) {
            dseqs[j] = requests.get(decodes.get(j)).sequence();
            dtoks[j] = requests.get(decodes.get(j)).tokens()[0];
            dmasks[j] = LabPass.droppedBiases(requests.get(decodes.get(j)));
        }
        checkDecode(dseqs, dtoks);
        // With the token ids, so the blocks this step fills can be found again by prefix caching.
        blocks.appendAll(all, requests.stream().map(StepRequest::tokens).toArray(int[][]::new));
        // Keys and values computed without some biases must never be found by another prompt's prefix.
        for (StepRequest r : requests) if (r.lab() != null && r.lab().changesKv()) blocks.forgetContents(r.sequence());
        LabProbe[] probes = new LabProbe[requests.size()];
        try {
            List<SampledToken> result = ctx.call(() -> {
                syncTables(all);
                SampledToken[] out = new SampledToken[requests.size()];
                int carrier = mixedCarrier(requests, dseqs.length, dmasks);
                for (int i = 0; i < requests.size(); i++) {
                    StepRequest r = requests.get(i);
                    if (!r.prefill() || i == carrier) continue;
                    prefillChunks(r.sequence(), r.tokens(), false, null, LabPass.droppedBiases(r), r.probed(), r.sample());
                    if (r.generatedTail() > 0) seqs.markGenerated(r.sequence(), r.generatedTail());
                    // A chunk that is not its prompt's last picks nothing: no logits read, no sampling pass.
                    out[i] = r.sample() ? sampling.pick(List.of(r))[0] : SampledToken.none(r.sequence());
                    // After the pick: the lens goes through the logits rows the pick has just read.
                    if (r.probed()) probes[i] = lab.read();
                }
                if (carrier >= 0) {
                    mixedStep(requests, carrier, decodes, dseqs, dtoks, out);
                    return List.of(out);
                }
                for (int from = 0; from < dseqs.length; from += ws.rows) {
                    int n = Math.min(ws.rows, dseqs.length - from);
                    decodeBatch(dseqs, dtoks, from, n, dmasks);
                    List<StepRequest> batch = new ArrayList<>();
                    for (int j = 0; j < n; j++) batch.add(requests.get(decodes.get(from + j)));
                    SampledToken[] picked = sampling.pick(batch);
                    for (int j = 0; j < n; j++) out[decodes.get(from + j)] = picked[j];
                }
                return List.of(out);
            });
            for (int i = 0; i < probes.length; i++) if (probes[i] != null) requests.get(i).lab().probe().accept(probes[i]);
            return result;
        } catch (RuntimeException | Error e) {
            // Blocks named by this step may hold half-written keys and values; nobody may reuse them.
            for (int id : all) blocks.forgetContents(id);
            throw e;
        }
    }

    /**
     * The prefill request whose pass the step's decodes ride, or -1 for separate passes: the first
     * plain prefill (no bias-lab pass) that {@link ForwardPass#takesMixed} beside all the decodes,
     * when none of them is a lab pass.
     */
    private int mixedCarrier(List<StepRequest> requests, int decodes, BiasMask[] decodeMasks) {
        if (!mixedPasses || decodes == 0) return -1;
        for (BiasMask m : decodeMasks) if (m != null) return -1;
        for (int i = 0; i < requests.size(); i++) {
            StepRequest r = requests.get(i);
            if (r.prefill() && r.lab() == null && forward.takesMixed(r.tokens().length, decodes)) return i;
        }
        return -1;
    }

    /**
     * Runs requests[carrier] (a prefill chunk) and the decodes as one forward pass, then picks the
     * tokens of the decodes and, when it samples, of the chunk: rows 0..n-1 of the pass are the
     * chunk, rows n.. the decodes in request order.
     */
    private void mixedStep(List<StepRequest> requests, int carrier, List<Integer> decodes, int[] dseqs, int[] dtoks,
            SampledToken[] out) {
        StepRequest chunk = requests.get(carrier);
        int seq = chunk.sequence();
        int n = chunk.tokens().length;
        int d = dseqs.length;
        int rows = n + d;
        int start = seqs.length(seq);
        int[] tok = new int[rows];
        int[] slots = new int[rows];
        int[] pos = new int[rows];
        int[] logitRows = new int[d + 1];
        List<StepRequest> picks = new ArrayList<>(d + 1);
        int nLogit = 0;
        if (chunk.sample()) {
            logitRows[nLogit++] = n - 1;
            picks.add(chunk);
        }
        System.arraycopy(chunk.tokens(), 0, tok, 0, n);
        Arrays.fill(slots, 0, n, seq);
        for (int i = 0; i < n; i++) pos[i] = start + i;
        int decodeMax = 0;
        for (int j = 0; j < d; j++) {
            tok[n + j] = dtoks[j];
            slots[n + j] = dseqs[j];
            pos[n + j] = seqs.length(dseqs[j]);
            decodeMax = Math.max(decodeMax, pos[n + j] + 1);
            logitRows[nLogit++] = n + j;
            picks.add(requests.get(decodes.get(j)));
        }
        stage(rows, tok, slots, pos, logitRows, nLogit);
        forward.currentSlot = seq;
        forward.mixed(n, start, rows, decodeMax, firstOutputRow(logitRows, nLogit, rows));
        mixedStepsRun++;
        seqs.append(seq, chunk.tokens(), 0, n, false);
        if (chunk.generatedTail() > 0) seqs.markGenerated(seq, chunk.generatedTail());
        for (int j = 0; j < d; j++) seqs.append(dseqs[j], dtoks, j, 1, true);
        if (!chunk.sample()) out[carrier] = SampledToken.none(seq);
        for (int g = 0; g < nLogit; g += ws.rows) {
            int cnt = Math.min(ws.rows, nLogit - g);
            forward.logits(g, cnt);
            SampledToken[] picked = sampling.pick(picks.subList(g, g + cnt));
            for (int i = 0; i < cnt; i++) {
                int row = g + i;
                boolean chunkRow = chunk.sample() && row == 0;
                out[chunkRow ? carrier : decodes.get(row - (chunk.sample() ? 1 : 0))] = picked[i];
            }
        }
    }

    int mixedStepsRun() {
        return ctx.call(() -> mixedStepsRun);
    }

    @Override
    public int cachedPrefixLength(int[] tokens) {
        return blocks.cachedPrefixLength(tokens);
    }

    /**
     * Points the new sequence's block table at the cached blocks of its longest cached prefix: no
     * copy on the device, the next step's table upload is all it takes. The reused tokens enter the
     * penalty history as if they had been fed, those past {@code promptLength} as generated.
     */
    @Override
    public int reuseCachedPrefix(int sequence, int[] tokens, int promptLength) {
        seqs.requireOpen(sequence);
        int reused = blocks.reuseCachedPrefix(sequence, tokens);
        if (reused > 0) {
            seqs.append(sequence, tokens, 0, reused, false);
            if (reused > promptLength) seqs.markGenerated(sequence, reused - promptLength);
        }
        return reused;
    }

    /**
     * Runs one {@link #step} eagerly with every kernel timed; returns kernel name to {total ms,
     * launches}. For the benchmark's breakdown (graph replay hides the individual kernels).
     */
    public java.util.Map<String, double[]> profileStep(List<StepRequest> requests) {
        return ctx.call(() -> {
            KernelTimer timer = new KernelTimer();
            module.timer(timer);
            try {
                step(requests);
                ctx.synchronize();
            } finally {
                module.timer(null);
            }
            return timer.totals();
        });
    }

    /**
     * For the benchmark: GPU microseconds of one replay of the captured graph that decoded
     * {@code sequence}'s last position, replayed {@code times} times back to back with no host work
     * between them. Each replay feeds {@code lastToken} at that position again and so rewrites the
     * same keys and values; the sequence does not grow. Set against a step's wall time, it is the
     * share of a step spent outside the graph: staging, sampling and the host.
     */
    public double replayLastDecodeMicros(int sequence, int lastToken, int times) {
        if (times < 1) throw new IllegalArgumentException("replays must be >= 1, got " + times);
        checkTokens(new int[] {lastToken});
        return ctx.call(() -> {
            int pos = seqs.length(sequence) - 1;
            if (pos < 0) throw new IllegalArgumentException("sequence " + sequence + " has no position to decode again");
            int maxLen = stage(1, new int[] {lastToken}, new int[] {sequence}, new int[] {pos}, new int[] {0}, 1);
            forward.decode(1, 1, maxLen, true);  // captures the graph if this bucket has none yet
            try (StreamTimer timer = new StreamTimer(ctx.stream())) {
                return timer.millis(() -> {
                    for (int i = 0; i < times; i++) forward.decode(1, 1, maxLen, true);
                }) * 1e3 / times;
            }
        });
    }

    /** For the benchmark and tests: runs {@code work} inside the engine's context call with its kernels. */
    public <T> T onDevice(java.util.function.Function<CudaKernels, T> work) {
        return ctx.call(() -> work.apply(kernels));
    }

    CudaContext context() {
        return ctx;
    }

    /** For the benchmark: the device's SM count, which the GEMMs' split-K and tile choices count. */
    public int multiprocessors() {
        return ctx.multiprocessors();
    }

    /** For tests: the pool blocks the sequence holds, in position order. */
    int[] blockIds(int sequence) {
        return blocks.blockIds(sequence);
    }

    int capturedGraphs() {
        return ctx.call(() -> forward == null ? 0 : forward.capturedGraphs());
    }

    @Override
    public void close() {
        try {
            ctx.run(() -> {
                if (forward != null) forward.close();
                if (lab != null) lab.close();
                if (io != null) io.close();
                if (sampling != null) sampling.close();
                if (staged != null) JCudaDriver.cuEventDestroy(staged);
                if (ws != null) ws.close();
                if (kv != null) kv.close();
                if (weights != null) weights.close();
                if (module != null) module.close();
            });
        } finally {
            ctx.close();
        }
    }
}
