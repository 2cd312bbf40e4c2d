package qwenchat.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import qwenchat.model.ModelConfig;

/** The GPU benchmark's arguments and report; measuring itself needs a GPU (run-gpu-checks.sh bench). */
class GpuBenchCommandTest {

    @Test
    void withoutAModelOrTheBlockSizeBenchItSaysWhatItNeeds() {
        CliRun r = CliRun.run("", "bench", "--out", "x.json");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("bench needs --model DIR (or --kv-block-sizes)"), r.err());
    }

    @Test
    void anUnknownArgumentListsTheOptions() {
        CliRun r = CliRun.run("", "bench", "--fast");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("--kv-block-sizes") && r.err().contains("--yarn-128k"), r.err());
    }

    @Test
    void theComparisonTableHasTheWideBatchRows(@TempDir Path dir) throws Exception {
        Path ours = dir.resolve("ours.json");
        Path peer = dir.resolve("peer.json");
        Files.writeString(ours, "{\"decode_b256_ctx1k_tok_s\": 16000.0, \"decode_b128_ctx1k_tok_s\": 9000.0}");
        Files.writeString(peer, "{\"decode_b256_ctx1k_tok_s\": 4000.0}");
        String table = GpuBenchCommand.table(ours, peer);
        assertTrue(table.contains("| decode 256 seqs, 1K ctx (tok/s) | 16000 | 4000 | 4.00x |"), table);
        assertTrue(table.contains("| decode 128 seqs, 1K ctx (tok/s) | 9000 | - | - |"), table);
    }

    @Test
    void yarnFourStretchesTheNativeWindowToA128kContext() {
        ModelConfig base = new ModelConfig("qwen2", 3584, 18944, 28, 28, 4, 128, 152064, 32768, 1e6, 1e-6, false, null,
                "bfloat16");
        ModelConfig yarn = GpuBenchCommand.withYarn(base, 4.0);
        assertEquals(131072, yarn.contextLength());
        assertEquals(32768, yarn.ropeScaling().originalMaxPositionEmbeddings());
    }
}
