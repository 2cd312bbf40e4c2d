package qwenchat.demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.cpu.CpuEngine;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.generation.GenerationResult;
import qwenchat.generation.Generator;
import qwenchat.generation.TextDecoder;
import qwenchat.weights.ModelDirectory;
import qwenchat.generation.GenerationRequest;
import qwenchat.tokenizer.QwenTokenizer;
import qwenchat.weights.Checkpoint;

class DemoCheckpointTest {

    @TempDir
    Path tmp;

    private static GenerationResult generate(ModelDirectory demo) {
        QwenTokenizer tok = demo.tokenizer();
        try (Checkpoint ckpt = demo.openCheckpoint();
                CpuEngine e = CpuEngine.load(demo.config(), ckpt, new KvCacheCapacity(1, 128))) {
            Generator g = new Generator(e, () -> TextDecoder.of(tok), demo.generation().eosTokenIds());
            int[] prompt = tok.encode("Hello, demo weights!");
            return g.generate(new GenerationRequest("test", prompt, 24, SamplingParams.defaults(demo.generation(), 7),
                    List.of(), 0), s -> { });
        }
    }

    @Test
    void writesALabelledQwen2CheckpointWithTheRealTokenizer() {
        ModelDirectory demo = DemoCheckpoint.ensure(tmp.resolve("demo"));
        assertTrue(demo.demo());
        assertTrue(demo.displayName().contains("demo weights (random)"), demo.displayName());
        assertEquals(151936, demo.config().vocabSize());
        assertTrue(demo.config().tieWordEmbeddings());
        assertEquals(List.of(151645, 151643), demo.generation().eosTokenIds());
        assertEquals(0.7, demo.generation().temperature());
        try (Checkpoint ckpt = demo.openCheckpoint()) {
            ckpt.validateAgainst(demo.config());
            float[] kBias = ckpt.tensor("model.layers.0.self_attn.k_proj.bias").toFloatArray();
            double sumSq = 0;
            for (float f : kBias) sumSq += f * f;
            assertTrue(Math.sqrt(sumSq / kBias.length) > 1, "k biases should be large, like the real model's");
            assertTrue(ckpt.metadata().values().stream().anyMatch(m -> "demo weights (random)".equals(
                    m.get(ModelDirectory.DEMO_MARKER))));
        }
        assertArrayEquals(QwenTokenizer.bundled().encode("naïve café"), demo.tokenizer().encode("naïve café"), "tokenizer");
    }

    @Test
    void twoGenerationsFromIndependentlyWrittenCopiesAreByteIdentical() throws Exception {
        ModelDirectory a = DemoCheckpoint.ensure(tmp.resolve("a"));
        ModelDirectory b = DemoCheckpoint.ensure(tmp.resolve("b"));
        assertEquals(-1L, Files.mismatch(a.dir().resolve("model.safetensors"), b.dir().resolve("model.safetensors")));
        GenerationResult ra = generate(a);
        GenerationResult rb = generate(b);
        assertArrayEquals(ra.ids(), rb.ids());
        assertArrayEquals(ra.text().getBytes(java.nio.charset.StandardCharsets.UTF_8),
                rb.text().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        assertEquals(24, ra.ids().length + (ra.finishReason() == qwenchat.generation.FinishReason.STOP ? 1 : 0),
                "either the whole budget or an eos");
    }

    @Test
    void concurrentFirstUseYieldsOneCompleteCheckpoint() throws Exception {
        Path dir = tmp.resolve("shared");
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<ModelDirectory>> results = new ArrayList<>();
            Callable<ModelDirectory> task = () -> DemoCheckpoint.ensure(dir);
            results.add(pool.submit(task));
            results.add(pool.submit(task));
            for (Future<ModelDirectory> f : results) assertTrue(f.get().demo());
        } finally {
            pool.shutdownNow();
        }
        try (Stream<Path> entries = Files.list(tmp)) {
            assertEquals(List.of(dir), entries.toList(), "temporary directories must be gone");
        }
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            ckpt.validateAgainst(qwenchat.model.ModelConfigParser.parseConfig(dir.resolve("config.json")));
        }
    }
}
