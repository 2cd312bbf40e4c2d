package qwenchat.web;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Primary;
import qwenchat.engine.EngineInfo;
import qwenchat.model.ModelConfigParser;
import qwenchat.serving.ServedModel;
import qwenchat.tokenizer.ChatTemplate;
import qwenchat.tokenizer.QwenTokenizer;

/** Fake runtime and scheduler beans standing in for the serving layer, with the real bundled tokenizer. */
@TestConfiguration(proxyBeanMethods = false)
public class FakeServing {

    public static final int CONTEXT = 256;

    /** The real model loader still runs beside the fakes: point it at nothing so it fails at once instead of loading. */
    public static final String NO_REAL_MODEL = "qwen.model-dir=target/no-such-model-dir";

    @Bean
    @Primary
    FakeModelRuntime fakeModelRuntime() {
        return new FakeModelRuntime();
    }

    @Bean
    @Primary
    FakeGenerationService fakeGenerationService() {
        return new FakeGenerationService();
    }

    private static ServedModel model;

    /** The same model with another context length. */
    public static ServedModel model(int contextLength) {
        ServedModel m = model();
        return new ServedModel(m.name(), m.sourceDirectory(), m.demo(), m.config(), m.generationDefaults(),
                m.tokenizer(), m.chatTemplate(), m.engine(), contextLength);
    }

    /** The real Qwen2.5 tokenizer, template, config and generation defaults, with a tiny context for limit tests. */
    public static synchronized ServedModel model() {
        if (model == null) {
            QwenTokenizer tokenizer = QwenTokenizer.bundled();
            model = new ServedModel("demo weights (random)", "/tmp/demo", true,
                    ModelConfigParser.parseConfig(resource("qwen2.5/config.json"), "config.json"),
                    ModelConfigParser.parseGenerationConfig(resource("qwen2.5/generation_config.json"), "generation_config.json"),
                    tokenizer, new ChatTemplate(tokenizer), new EngineInfo("cpu", "test CPU", null, null, 0, 0, 0, 0),
                    CONTEXT);
        }
        return model;
    }

    private static String resource(String name) {
        try (InputStream in = FakeServing.class.getClassLoader().getResourceAsStream(name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
