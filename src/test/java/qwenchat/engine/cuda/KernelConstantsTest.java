package qwenchat.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The Java side's copies of kernel compile-time constants against the {@code constexpr} in
 * src/main/cuda, so a change on one side fails here instead of as wrong shared-memory sizes or
 * grids on the device. No GPU needed.
 */
class KernelConstantsTest {
    static final Path CUDA = Path.of("src/main/cuda");

    /** The value of {@code constexpr int NAME = value;} inside {@code namespace ns} of the file. */
    static int constexpr(String file, String namespace, String name) throws IOException {
        String src = Files.readString(CUDA.resolve(file));
        int ns = src.indexOf("namespace " + namespace + " {");
        assertTrue(ns >= 0, file + " has no namespace " + namespace);
        Matcher m = Pattern.compile("constexpr int " + name + " = (\\d+);").matcher(src);
        assertTrue(m.find(ns), file + " has no constexpr int " + name + " in namespace " + namespace);
        return Integer.parseInt(m.group(1));
    }

    @Test
    void decodeAttentionSplitAndGroupLimitMatchTheKernel() throws IOException {
        assertEquals(constexpr("attention_decode.cu", "attn", "SPLIT"), CudaKernels.ATTN_SPLIT);
        assertEquals(constexpr("attention_decode.cu", "attn", "MAXG"), CudaKernels.ATTN_MAX_GROUP);
    }

    @Test
    void prefillAttentionHeadDimMatchesTheKernel() throws IOException {
        assertEquals(constexpr("prefill_attention.cu", "prefill_attn", "HD"), PrefillAttention.HEAD_DIM);
    }

    @Test
    void topLogprobsLimitMatchesTheSamplingKernel() throws IOException {
        assertEquals(constexpr("sampling.cu", "sampling", "MAXK"), CudaKernels.MAX_TOPK);
    }
}
