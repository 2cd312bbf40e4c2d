package qwenchat.lab;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import qwenchat.serving.GenerationService;
import qwenchat.serving.ModelRuntime;
import qwenchat.serving.QwenProperties;

/** Wires the bias lab: its runner on the shared scheduler, and the few recent runs kept for export. */
@Configuration(proxyBeanMethods = false)
public class LabConfiguration {

    /** Runs kept for the export links: the page downloads what it has just shown. */
    static final int KEPT_RUNS = 8;

    @Bean
    LabHistory labHistory() {
        return new LabHistory(KEPT_RUNS);
    }

    @Bean
    LabRunner labRunner(GenerationService scheduler, ModelRuntime runtime, QwenProperties properties, LabHistory history) {
        return new LabRunner(scheduler, runtime, properties.requestTimeout(), history);
    }
}
