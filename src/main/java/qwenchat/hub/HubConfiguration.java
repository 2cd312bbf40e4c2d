package qwenchat.hub;

import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Configuration;

/** Binds {@code qwen.hub.*}; the model loader downloads with it when {@code QWEN_MODEL} is set and {@code QWEN_MODEL_DIR} is not. */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties(HubProperties.class)
public class HubConfiguration {
}
