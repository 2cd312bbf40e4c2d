package qwenchat.web;

import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.socket.config.annotation.EnableWebSocket;
import org.springframework.web.socket.config.annotation.WebSocketConfigurer;
import org.springframework.web.socket.config.annotation.WebSocketHandlerRegistry;
import org.springframework.web.socket.server.standard.ServletServerContainerFactoryBean;

@Configuration(proxyBeanMethods = false)
@EnableWebSocket
@EnableConfigurationProperties(WebChatProperties.class)
public class ChatSocketConfig implements WebSocketConfigurer {

    /** Tomcat hands large text frames to the handler in pieces of this size; the handler enforces the real limit. */
    static final int CONTAINER_TEXT_BUFFER = 64 * 1024;

    private final ChatSocketHandler handler;
    private final WebChatProperties properties;

    public ChatSocketConfig(ChatSocketHandler handler, WebChatProperties properties) {
        this.handler = handler;
        this.properties = properties;
    }

    @Override
    public void registerWebSocketHandlers(WebSocketHandlerRegistry registry) {
        // Spring always checks the Origin header: an empty list still lets same-origin pages (and
        // clients that send no Origin) in and refuses every other origin with 403.
        registry.addHandler(handler, "/ws/chat").setAllowedOrigins(properties.allowedOrigins().toArray(String[]::new));
    }

    @Bean
    ServletServerContainerFactoryBean webSocketContainer() {
        ServletServerContainerFactoryBean container = new ServletServerContainerFactoryBean();
        container.setMaxTextMessageBufferSize(CONTAINER_TEXT_BUFFER);
        container.setMaxBinaryMessageBufferSize(8 * 1024);
        return container;
    }
}
