package qwenchat.build;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/** The build hook compiles src/main/cuda into a fatbin exactly when nvcc is on the PATH. */
class KernelBuildHookTest {

    /** First word of every CUDA fatbin container. */
    private static final int FATBIN_MAGIC = 0xBA55ED50;

    private static boolean nvccOnPath() {
        String path = System.getenv("PATH");
        if (path == null) return false;
        for (String dir : path.split(File.pathSeparator)) {
            if (new File(dir, "nvcc").canExecute()) return true;
        }
        return false;
    }

    @Test
    void jarCarriesFatbinExactlyWhenNvccExists() throws IOException {
        Properties props = new Properties();
        try (InputStream in = getClass().getResourceAsStream("/kernels/kernels.properties")) {
            assertNotNull(in, "kernels/kernels.properties must always be written by the build hook");
            props.load(in);
        }
        try (InputStream fatbin = getClass().getResourceAsStream("/kernels/qwen.fatbin")) {
            if (nvccOnPath()) {
                assertEquals("true", props.getProperty("available"), props.toString());
                assertNotNull(fatbin, "nvcc is on the PATH, so the jar must contain kernels/qwen.fatbin");
                byte[] head = fatbin.readNBytes(8);
                assertEquals(FATBIN_MAGIC, ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN).getInt(),
                        "kernels/qwen.fatbin does not start with the fatbin magic");
                assertTrue(props.getProperty("sources", "").contains("device_info"),
                        "the self-test kernel must be compiled in: " + props);
            } else {
                assertEquals("false", props.getProperty("available"));
                assertTrue(props.getProperty("reason", "").contains("nvcc"), props.toString());
                assertNull(fatbin, "without nvcc no stale fatbin may be shipped");
            }
        }
    }
}
