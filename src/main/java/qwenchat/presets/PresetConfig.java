package qwenchat.presets;

import java.nio.file.Path;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import tools.jackson.databind.json.JsonMapper;

@Configuration(proxyBeanMethods = false)
public class PresetConfig {

    /** {@code qwen.data-dir} (env {@code QWEN_DATA_DIR}) holds {@code presets.json}. */
    @Bean
    PresetStore presetStore(@Value("${qwen.data-dir:./data}") Path dataDir, JsonMapper json) {
        return new PresetStore(dataDir, new AtomicFileWriter(), json);
    }
}
