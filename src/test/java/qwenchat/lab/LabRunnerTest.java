package qwenchat.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.Test;
import qwenchat.engine.BiasMask;
import qwenchat.engine.LabProbe;
import qwenchat.generation.FinishReason;
import qwenchat.generation.GenerationRequest;
import qwenchat.generation.GenerationUsage;
import qwenchat.generation.Priority;
import qwenchat.serving.GeneratedToken;
import qwenchat.serving.GenerationException;
import qwenchat.serving.GenerationHandle;
import qwenchat.serving.GenerationListener;
import qwenchat.serving.GenerationService;
import qwenchat.serving.ServedModel;
import qwenchat.web.FakeModelRuntime;
import qwenchat.web.FakeServing;

/** What the runner asks of the scheduler and how it turns the two runs into one result. */
class LabRunnerTest {

    final List<GenerationRequest> submitted = new ArrayList<>();

    /** A scheduler that answers each request at once through {@code answer}. */
    GenerationService service(BiConsumer<GenerationRequest, GenerationListener> answer) {
        return new GenerationService() {
            @Override
            public GenerationHandle submit(GenerationRequest request, GenerationListener listener) {
                submitted.add(request);
                answer.accept(request, listener);
                return new GenerationHandle() {
                    @Override
                    public String requestId() {
                        return request.requestId();
                    }

                    @Override
                    public void cancel() {
                    }

                    @Override
                    public boolean isDone() {
                        return true;
                    }
                };
            }

            @Override
            public int runningCount() {
                return 0;
            }

            @Override
            public int waitingCount() {
                return 0;
            }
        };
    }

    static ServedModel model() {
        return FakeServing.model();
    }

    static LabProbe probe(int layers, int heads, float hot) {
        int vocab = 8;
        float[][] lens = new float[layers][vocab];
        for (int l = 0; l < layers; l++) lens[l][l % vocab] = hot;
        return new LabProbe(lens, new float[layers][heads], new float[layers][heads]);
    }

    static GenerationUsage usage() {
        return new GenerationUsage(3, 2, 0, 0, 0, 0);
    }

    LabRunner runner(BiConsumer<GenerationRequest, GenerationListener> answer, LabHistory history) {
        FakeModelRuntime runtime = new FakeModelRuntime();
        runtime.ready(model());
        return new LabRunner(service(answer), runtime, Duration.ofSeconds(5), history);
    }

    @Test
    void bothRunsAreBackgroundRequestsOnTheTemplatedPromptAndOnlyOneDropsBiases() throws Exception {
        int layers = model().config().numHiddenLayers();
        int heads = model().config().numAttentionHeads();
        LabHistory history = new LabHistory(2);
        LabRunner runner = runner((r, l) -> {
            boolean ablated = !r.lab().ablated().isEmpty();
            r.lab().probe().accept(probe(layers, heads, ablated ? 1 : 9));
            l.onToken(new GeneratedToken(ablated ? 7 : 5, ablated ? "b" : "a", 0, new int[0], new float[0]));
            l.onComplete(FinishReason.LENGTH, "", usage());
        }, history);
        LabResult result = runner.run(new LabRequest("Hello", "k", 2, 4, 1));
        assertThat(submitted).hasSize(2);
        assertThat(submitted).allSatisfy(r -> assertThat(r.priority()).isEqualTo(Priority.BACKGROUND));
        assertThat(submitted.get(0).promptIds()).isEqualTo(submitted.get(1).promptIds())
                .isEqualTo(model().chatTemplate().render(List.of(new qwenchat.tokenizer.ChatMessage("user", "Hello")), true).ids());
        assertThat(submitted.get(0).lab().ablated()).isEqualTo(BiasMask.none(layers));
        assertThat(submitted.get(1).lab().ablated()).isEqualTo(BiasMask.ablate(layers, 2, 4, BiasMask.K));
        assertThat(submitted.get(1).privateKv()).isTrue();
        assertThat(result.live().text()).isEqualTo("a");
        assertThat(result.ablated().tokens()).containsExactly(7);
        assertThat(result.firstDivergence()).isZero();
        assertThat(result.measurements().klPerLayer()).hasSize(layers);
        for (double kl : result.measurements().klPerLayer()) assertThat(kl).isPositive();
        assertThat(history.get(result.id())).contains(result);
    }

    @Test
    void aRunTheSchedulerStopsEarlyIsReportedAsBusyAndNotKept() {
        LabHistory history = new LabHistory(2);
        LabRunner runner = runner((r, l) -> l.onComplete(FinishReason.TIMEOUT, "", usage()), history);
        assertThatThrownBy(() -> runner.run(new LabRequest("Hello", "v", 0, 0, 4)))
                .isInstanceOfSatisfying(GenerationException.class,
                        e -> assertThat(e.code()).isEqualTo(GenerationException.Code.BUSY))
                .hasMessageContaining("chat requests go first");
    }

    @Test
    void aRangeBeyondTheModelIsRefusedBeforeAnythingIsSubmitted() {
        int layers = model().config().numHiddenLayers();
        LabRunner runner = runner((r, l) -> { }, new LabHistory(1));
        assertThatThrownBy(() -> runner.run(new LabRequest("Hello", "q", 0, layers, 4)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("layers:");
        assertThat(submitted).isEmpty();
    }
}
