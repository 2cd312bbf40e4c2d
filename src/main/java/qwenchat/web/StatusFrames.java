package qwenchat.web;

import qwenchat.clienttext.PublicText;

import java.util.List;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.serving.LoadStatus;
import qwenchat.serving.ServedModel;

/** Turns the runtime's {@link LoadStatus} (and, once ready, the served model) into a {@code status} frame. */
final class StatusFrames {

    private StatusFrames() {
    }

    static ServerFrames.Status of(LoadStatus s, ServedModel model, int defaultMaxTokens) {
        List<ServerFrames.Stage> stages = s.stages().stream()
                .map(t -> new ServerFrames.Stage(t.stage().name(), t.stage().description(),
                        t.startedAtEpochMillis(), t.durationMillis()))
                .toList();
        ServerFrames.Model m = null;
        if (model != null) {
            SamplingParams d = SamplingParams.defaults(model.generationDefaults(), 0);
            m = new ServerFrames.Model(model.name(), model.demo(), model.contextLength(),
                    model.engine() == null ? null : model.engine().kind(),
                    model.engine() == null ? null : model.engine().device(),
                    new ServerFrames.Defaults(d.temperature(), d.topP(), d.topK(), d.repetitionPenalty(),
                            Math.min(defaultMaxTokens, model.contextLength())));
        }
        return new ServerFrames.Status("status", s.state().name(), s.stage() == null ? null : s.stage().name(),
                s.stage() == null ? null : s.stage().description(), s.percent(), s.bytesDone(), s.bytesTotal(),
                s.tensorsDone(), s.tensorsTotal(), s.currentTensor(), s.etaMillis(), PublicText.of(s.error()), s.modelName(),
                s.demo(), stages, m);
    }
}
