package qwenchat.serving;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import qwenchat.hub.HubProperties;

/** Wires the model lifecycle and the scheduler. */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties(QwenProperties.class)
public class ServingConfiguration {

    @Bean
    EngineFactory engineFactory(QwenProperties properties) {
        return new DefaultEngineFactory(properties);
    }

    @Bean
    ModelLoader modelRuntime(QwenProperties properties, EngineFactory engineFactory, ObjectProvider<HubProperties> hub) {
        return new ModelLoader(properties, engineFactory, hub.getIfAvailable());
    }

    @Bean
    BatchScheduler generationService(QwenProperties properties, ModelLoader loader, ApplicationEventPublisher events) {
        BatchScheduler scheduler = new BatchScheduler(properties, loader, events);
        loader.onReady(scheduler::attach);
        return scheduler;
    }

    @Bean
    SchedulerMetrics schedulerMetrics(BatchScheduler scheduler) {
        return new SchedulerMetrics(scheduler);
    }

    @Bean("modelHealthIndicator")
    ModelHealthIndicator model(ModelRuntime runtime) {
        return new ModelHealthIndicator(runtime);
    }

    @Bean
    ReadinessPublisher readinessPublisher(ModelRuntime runtime, ApplicationEventPublisher events) {
        return new ReadinessPublisher(runtime, events);
    }
}
