package qwenchat.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import qwenchat.model.ModelConfig;
import qwenchat.model.ModelConfigParser;

class CpuBenchCommandTest {

    @Test
    void reportsATableRowForTheModel() throws Exception {
        Path dir = Path.of(getClass().getResource("/reference/tiny-tied-hd128-g3").toURI());
        CliRun r = CliRun.run("", "bench-cpu", "--model", dir.toString(), "--prompt-tokens", "4", "--decode-tokens", "2",
                "--repeats", "1", "--threads", "1");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("| tiny-tied-hd128-g3 |"), r.out());
        assertTrue(r.out().contains("decode GB/s"), r.out());
    }

    @Test
    void decodeStreamsEveryMatrixOnceAndTheHeadNotTheEmbeddingTable() throws Exception {
        Path dir = Path.of(getClass().getResource("/reference/tiny-untied-hd64-g2").toURI());
        ModelConfig c = ModelConfigParser.parseConfig(dir.resolve("config.json"));
        // untied: parameters count embedding and head; a decode step reads the head but one embedding row
        long vectors = c.numHiddenLayers() * (2L * c.hiddenSize() + c.qkvDim()) + c.hiddenSize();
        long matrices = c.parameterCount() - vectors - (long) c.vocabSize() * c.hiddenSize();
        assertEquals(2 * matrices, CpuBenchCommand.streamedBytesPerToken(c));
    }

    @Test
    void rejectsNonPositiveCounts() {
        CliRun r = CliRun.run("", "bench-cpu", "--decode-tokens", "0");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("--decode-tokens"), r.err());
    }
}
