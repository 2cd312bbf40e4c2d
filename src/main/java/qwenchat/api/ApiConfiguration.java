package qwenchat.api;

import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import qwenchat.serving.QwenProperties;

/** Registers the API key check in front of {@code /v1/*}. */
@Configuration(proxyBeanMethods = false)
public class ApiConfiguration {

    @Bean
    FilterRegistrationBean<ApiKeyFilter> apiKeyFilter(QwenProperties properties) {
        FilterRegistrationBean<ApiKeyFilter> r = new FilterRegistrationBean<>(new ApiKeyFilter(properties.apiKeys()));
        r.addUrlPatterns("/v1/*");
        return r;
    }
}
