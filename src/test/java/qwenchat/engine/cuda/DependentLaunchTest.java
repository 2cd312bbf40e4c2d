package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.LoadProgressListener;
import qwenchat.engine.ReferenceData;
import qwenchat.model.ModelConfig;
import qwenchat.weights.Checkpoint;

class DependentLaunchTest {
    private static final Path CUDA = Path.of("src/main/cuda");

    @Test
    void onlyTheKernelsThatWaitForTheirPredecessorAreLaunchedDependently() {
        for (String k : new String[] {"gemv_qkv_norm_bt1_ks4", "gemv_residual_bt1", "gemv_plain_bt32", "gemv_swiglu_norm_bt8_ks2"}) {
            assertTrue(DependentLaunch.takes(k), k);
        }
        for (String k : new String[] {"attn_partial_mma_span_hd128", "attn_combine", "attn_partial_hd128", "attn_fused_hd128_g8", "rmsnorm_rows",
                "prefill_gemm_wgmma_ws_bf16", "skinny_gemm_f32_nb16", "logits_argmax_partial", "qkv_rope_store", "xgemv_", "embed_rows"}) {
            assertFalse(DependentLaunch.takes(k), k);
        }
    }

    /**
     * What makes a dependent launch safe is in the CUDA sources: every kernel the list admits reaches
     * qc::pdl_wait before it reads an activation or writes anything. gemv.cu's kernels are macro-made,
     * so every kernel of the file must run the one device function that waits.
     */
    @Test
    void everyListedKernelWaitsInTheCudaSources() throws IOException {
        assertEquals(java.util.Set.of("gemv_"), DependentLaunch.KERNELS, "a kernel added to the list needs its check here");
        String gemv = Files.readString(CUDA.resolve("gemv.cu"));
        assertEquals(2, count(gemv, "__global__"), "gemv.cu's kernels all come from GEMV_KERNEL and GEMV_NORM_KERNEL");
        assertEquals(2, count(gemv, "gemv::run<"), "both macros run gemv::run");
        String run = body(gemv, "static __device__ __forceinline__ void run(");
        assertWaitsBefore(run, "__ldg(", "gemv::run");
        assertWaitsBefore(run, "p.out_", "gemv::run");
        assertWaitsBefore(run, "epilogue<", "gemv::run");
        // Not launched dependently, but they wait too, so listing them later stays safe.
        String partial = body(Files.readString(CUDA.resolve("attention_decode_mma.cu")),
                "static __device__ __forceinline__ void partial(");
        assertWaitsBefore(partial, "load_warp_rows", "attn_mma::partial");
        assertWaitsBefore(partial, "pos[", "attn_mma::partial");
        String combine = body(Files.readString(CUDA.resolve("attention_decode.cu")), "attn_combine(");
        assertWaitsBefore(combine, "pos[", "attn_combine");
    }

    /**
     * Launched dependently or one after another, the same kernels do the same arithmetic in the same
     * order: prompts of 5, 70 and 190 tokens, 12 decode steps of the three sequences and 12 of the
     * first alone, every logit bit for bit. A race (a kernel reading its predecessor's output before
     * the wait) would show as differing bits or garbage.
     */
    @Tag("gpu")
    @ParameterizedTest
    @ValueSource(strings = {"tiny-untied-hd64-g2", "tiny-tied-hd128-g3"})
    void dependentLaunchesChangeNoBitOfTheLogits(String name) {
        GpuTestSupport.assumeGpu();
        DecodeKernels on = DecodeKernels.defaults().withDependentLaunch(true);
        sameLogits(name, on, on.withDependentLaunch(false), (a, b) -> {
            boolean hopper = a.context().computeCapabilityMajor() >= 9;
            assertEquals(hopper, a.dependentLaunches(), "dependent launches wherever the card has them");
            assertFalse(b.dependentLaunches());
        });
    }

    /**
     * Where the decode attention lets o_proj's GEMV start (at once, or once its loads are in flight)
     * moves no result: the GEMV still waits for the attention to finish before it reads a row.
     */
    @Tag("gpu")
    @ParameterizedTest
    @ValueSource(strings = {"tiny-untied-hd64-g2", "tiny-tied-hd128-g3"})
    void theAttentionsLateTriggerChangesNoBitOfTheLogits(String name) {
        GpuTestSupport.assumeGpu();
        DecodeKernels late = DecodeKernels.defaults().withDependentLaunch(true).withLateAttentionTrigger(true);
        sameLogits(name, late, late.withLateAttentionTrigger(false), (a, b) -> { });
    }

    /** Prompts of 5, 70 and 190 tokens and 24 decode steps through engines of kernels {@code x} and {@code y}: every logit bit alike. */
    private static void sameLogits(String name, DecodeKernels x, DecodeKernels y,
                                   java.util.function.BiConsumer<CudaEngine, CudaEngine> check) {
        ReferenceData ref = ReferenceData.load(name);
        ModelConfig c = CudaEngineReferenceTest.config(ref);
        CudaEngine.Options on = CudaEngine.Options.defaults().withKernels(x);
        CudaEngine.Options off = CudaEngine.Options.defaults().withKernels(y);
        try (Checkpoint ckpt = Checkpoint.open(ref.dir());
             CudaEngine a = CudaEngine.load(c, ckpt, new KvCacheCapacity(3, c.contextLength()), LoadProgressListener.NONE, on);
             CudaEngine b = CudaEngine.load(c, ckpt, new KvCacheCapacity(3, c.contextLength()), LoadProgressListener.NONE, off)) {
            check.accept(a, b);
            int[] lengths = {5, 70, 190};
            int[] as = new int[3];
            int[] bs = new int[3];
            for (int i = 0; i < 3; i++) {
                as[i] = a.openSequence();
                bs[i] = b.openSequence();
                int[] prompt = new int[lengths[i]];
                for (int j = 0; j < prompt.length; j++) prompt[j] = (13 * j + 7 * i + 2) % c.vocabSize();
                float[][] pa = a.prefillLogits(as[i], prompt, false);
                float[][] pb = b.prefillLogits(bs[i], prompt, false);
                assertArrayEquals(pb[pb.length - 1], pa[pa.length - 1], 0f, "prefill of sequence " + i);
            }
            for (int t = 0; t < 24; t++) {
                int n = t < 12 ? 3 : 1;
                int[] tokens = new int[n];
                for (int i = 0; i < n; i++) tokens[i] = (5 * t + 3 * i + 1) % c.vocabSize();
                float[][] da = a.decodeLogits(Arrays.copyOf(as, n), tokens);
                float[][] db = b.decodeLogits(Arrays.copyOf(bs, n), tokens);
                for (int i = 0; i < n; i++) assertArrayEquals(db[i], da[i], 0f, "step " + t + " sequence " + i);
            }
            assertTrue(a.capturedGraphs() > 0, "the decode steps replayed graphs, where dependent launches are edges");
        }
    }

    private static int count(String s, String what) {
        int n = 0;
        for (int at = s.indexOf(what); at >= 0; at = s.indexOf(what, at + 1)) n++;
        return n;
    }

    /** The text of the function whose signature starts at the first {@code signature}, to its closing brace. */
    private static String body(String source, String signature) {
        int at = source.indexOf(signature);
        assertTrue(at >= 0, "no " + signature);
        int open = source.indexOf('{', source.indexOf(')', at));
        int depth = 0;
        for (int i = open; i < source.length(); i++) {
            if (source.charAt(i) == '{') depth++;
            if (source.charAt(i) == '}' && --depth == 0) return source.substring(open, i + 1);
        }
        throw new AssertionError("unbalanced braces after " + signature);
    }

    private static void assertWaitsBefore(String body, String use, String function) {
        Matcher wait = Pattern.compile("qc::pdl_wait\\(\\)").matcher(body);
        assertTrue(wait.find(), function + " never calls qc::pdl_wait()");
        int first = body.indexOf(use);
        assertTrue(first < 0 || wait.start() < first, function + " uses " + use + " before qc::pdl_wait()");
    }
}
