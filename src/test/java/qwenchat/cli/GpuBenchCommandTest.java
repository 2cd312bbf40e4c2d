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
        assertTrue(r.err().contains("--kv-block-sizes") && r.err().contains("--yarn-128k") && r.err().contains("--served-shape"), r.err());
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
    void eachPeerGetsItsOwnColumnAndRatioNamedByItsPeerField(@TempDir Path dir) throws Exception {
        Path ours = dir.resolve("ours.json");
        Path hf = dir.resolve("peer.json");
        Path graph = dir.resolve("graph.json");
        Files.writeString(ours, "{\"decode_b64_tok_s\": 9000.0, \"ttft_1024_ms\": 20.0}");
        Files.writeString(hf, "{\"decode_b64_tok_s\": 1000.0, \"ttft_1024_ms\": 30.0}");
        Files.writeString(graph, "{\"peer\": \"pytorch-cuda-graph\", \"decode_b64_tok_s\": 10000.0,"
                + " \"ttft_1024_ms\": 25.0, \"decode_b256_ctx1k_tok_s\": null}");
        String table = GpuBenchCommand.table(ours, hf, graph);
        assertTrue(table.startsWith("| metric | qwen-chat CUDA | transformers (SDPA, no compile) | ours / peer |"
                + " pytorch-cuda-graph | ours / peer |"), table);
        assertTrue(table.contains("| decode 64 seqs (tok/s) | 9000 | 1000 | 9.00x | 10000 | 0.90x |"), table);
        // Times: the peer's over ours, so above 1 still means ours is ahead.
        assertTrue(table.contains("| TTFT 1K prompt (ms) | 20.00 | 30.00 | 1.50x | 25.00 | 1.25x |"), table);
        assertTrue(table.contains("| decode 256 seqs, 1K ctx (tok/s) | - | - | - | - | - |"), table);
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
