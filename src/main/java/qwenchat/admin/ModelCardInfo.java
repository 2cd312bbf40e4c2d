package qwenchat.admin;

import java.util.Map;
import org.springframework.boot.actuate.info.Info;
import org.springframework.boot.actuate.info.InfoContributor;
import qwenchat.serving.LoadStatus;
import qwenchat.serving.ModelRuntime;

/** {@code /actuator/info}'s {@code model}: the model card once ready, else the loading state. */
final class ModelCardInfo implements InfoContributor {

    private final ModelCards cards;
    private final ModelRuntime runtime;

    ModelCardInfo(ModelCards cards, ModelRuntime runtime) {
        this.cards = cards;
        this.runtime = runtime;
    }

    @Override
    public void contribute(Info.Builder builder) {
        ModelCard card = cards.current();
        if (card != null) {
            builder.withDetail("model", card);
        } else {
            LoadStatus s = runtime.status();
            builder.withDetail("model", Map.of("name", s.modelName(), "state", s.state().name(), "stage", s.stage().name()));
        }
    }
}
