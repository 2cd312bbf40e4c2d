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
 * Kernel compile-time constants that live in a kernel file rather than in limits.cuh (which
 * KernelSourcesTest checks against KernelLimits), against the Java side's copies, so a change on one side fails here instead of as wrong shared-memory sizes or
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
    void prefillAttentionHeadDimMatchesTheKernel() throws IOException {
        assertEquals(constexpr("prefill_attention.cu", "prefill_attn", "HD"), PrefillAttention.HEAD_DIM);
    }
}
