package qwenchat.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import qwenchat.engine.BiasMask;
import qwenchat.engine.LabPass;
import qwenchat.engine.LabProbe;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.generation.GenerationRequest;
import qwenchat.generation.Priority;
import qwenchat.serving.GenerationException.Code;

/** Bias-lab runs through the real scheduler on the demo model, next to ordinary chats. */
class BiasLabSchedulingTest {

    static DemoServing demo;

    @BeforeAll
    static void load() throws Exception {
        demo = new DemoServing(8, 16, Duration.ofMinutes(2));
    }

    @AfterAll
    static void close() {
        if (demo != null) demo.close();
    }

    static GenerationRequest chat(String id, int[] prompt) {
        return new GenerationRequest(id, prompt, 16, SamplingParams.greedyDecoding(), List.of(), 0);
    }

    static GenerationRequest lab(String id, int[] prompt, BiasMask mask, List<LabProbe> probes) {
        return new GenerationRequest(id, prompt, 16, SamplingParams.greedyDecoding(), List.of(), 0, null,
                Priority.BACKGROUND, new LabPass(mask, probes::add));
    }

    int layers() {
        return demo.served().config().numHiddenLayers();
    }

    @Test
    void aLabRunThatAblatesNothingWritesWhatAChatWritesAndIsProbedOnce() throws Exception {
        int[] prompt = demo.prompt("Compare the two runs.");
        Collector plain = new Collector();
        demo.scheduler.submit(chat("plain", prompt), plain);
        Collector.Outcome reference = plain.await();
        List<LabProbe> probes = new CopyOnWriteArrayList<>();
        Collector live = new Collector();
        demo.scheduler.submit(lab("live", prompt, BiasMask.none(layers()), probes), live);
        assertThat(live.await().ids()).isEqualTo(reference.ids());
        assertThat(probes).hasSize(1);
        assertThat(probes.getFirst().layerLogits()).hasNumberOfRows(layers());
    }

    @Test
    void anAblatedLabRunBatchedWithAChatLeavesTheChatsTextUnchanged() throws Exception {
        int[] prompt = demo.prompt("Stay the same, please.");
        Collector alone = new Collector();
        demo.scheduler.submit(chat("alone", prompt), alone);
        Collector.Outcome reference = alone.await();
        List<LabProbe> probes = new CopyOnWriteArrayList<>();
        Collector ablated = new Collector();
        Collector beside = new Collector();
        demo.scheduler.submit(lab("ablated", prompt, BiasMask.ablate(layers(), 0, layers() - 1, BiasMask.K | BiasMask.Q),
                probes), ablated);
        demo.scheduler.submit(chat("beside", prompt), beside);
        assertThat(beside.await().ids()).isEqualTo(reference.ids());
        ablated.await();
        assertThat(probes).hasSize(1);
    }

    @Test
    void aMaskForAnotherLayerCountIsRefusedAtSubmit() {
        int[] prompt = demo.prompt("Wrong mask.");
        assertThatThrownBy(() -> demo.scheduler.submit(lab("bad", prompt, BiasMask.none(layers() + 2), List.of()),
                new Collector()))
                .isInstanceOfSatisfying(GenerationException.class, e -> assertThat(e.code()).isEqualTo(Code.INVALID_REQUEST))
                .hasMessageContaining("covers " + (layers() + 2) + " layers");
    }
}
