package qwenchat.security;

import jakarta.servlet.DispatcherType;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.security.autoconfigure.actuate.web.servlet.EndpointRequest;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.HttpMethod;
import org.springframework.security.authentication.ProviderManager;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.config.annotation.web.configuration.WebSecurityCustomizer;
import org.springframework.security.config.annotation.web.configurers.AuthorizeHttpRequestsConfigurer;
import org.springframework.security.config.http.SessionCreationPolicy;
import org.springframework.security.web.SecurityFilterChain;
import org.springframework.security.web.authentication.AnonymousAuthenticationFilter;
import org.springframework.security.web.header.writers.ReferrerPolicyHeaderWriter.ReferrerPolicy;
import org.springframework.security.web.servlet.util.matcher.PathPatternRequestMatcher;
import org.springframework.security.web.util.matcher.RequestMatcher;
import org.springframework.security.web.util.matcher.RequestMatchers;
import qwenchat.serving.QwenProperties;

/**
 * Every security decision of the server: who may call what, with which credential, and the
 * response headers. Paths are matched the way Spring MVC routes them (decoded, by segment), and
 * the firewall refuses encoded separators, {@code ;} and non-normalised paths before any of this
 * runs, so a request cannot reach a handler under a spelling the rules do not see.
 *
 * <p>CSRF protection is off: no endpoint authenticates with a cookie or a session (bearer headers,
 * one-time tickets, and the WebSocket's own Origin check), so a cross-site page has no ambient
 * credential to abuse, and CSRF tokens would only break API clients.
 */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties(AccessProperties.class)
public class SecurityConfiguration {

    /**
     * Only our own scripts and styles run, and model output cannot load images or frames from
     * elsewhere (no tracking pixels, no exfiltration through URLs): a second line of defence behind
     * DOMPurify. No page may be framed.
     */
    public static final String CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self'; "
            + "img-src 'self' data:; connect-src 'self'; object-src 'none'; frame-src 'none'; frame-ancestors 'none'; "
            + "base-uri 'none'; form-action 'self'";

    private static final PathPatternRequestMatcher.Builder PATHS = PathPatternRequestMatcher.withDefaults();

    static final RequestMatcher ADMIN_API = PATHS.matcher("/admin/api/**");
    /** The bias lab's runs and exports: admin work on the live model. */
    static final RequestMatcher LAB_API = PATHS.matcher("/lab/api/**");
    static final RequestMatcher ADMIN_EVENTS = PATHS.matcher(HttpMethod.GET, "/admin/api/events");
    static final RequestMatcher PRESET_READS = PATHS.matcher(HttpMethod.GET, "/api/presets/**");
    static final RequestMatcher PRESETS = PATHS.matcher("/api/presets/**");
    static final RequestMatcher CHAT_TICKET = PATHS.matcher("/api/chat/ticket");
    static final RequestMatcher CHAT_SOCKET = PATHS.matcher("/ws/chat");
    /** Text out of a PDF the chat page attaches: part of chatting, so it is guarded like the chat. */
    static final RequestMatcher PDF_TEXT = PATHS.matcher(HttpMethod.POST, "/api/files/pdf-text");
    static final RequestMatcher OPENAI_API = PATHS.matcher("/v1/**");
    /**
     * The pages (shells without data) and their scripts, styles and libraries; any method, so
     * HEAD works for uptime checks (the handlers answer others with 405).
     */
    static final RequestMatcher PAGES_AND_ASSETS = RequestMatchers.anyOf(PATHS.matcher("/"), PATHS.matcher("/admin"),
            PATHS.matcher("/admin/"), PATHS.matcher("/lab"), PATHS.matcher("/lab/"), PATHS.matcher("/*.js"), PATHS.matcher("/*.css"), PATHS.matcher("/webjars/**"));

    @Bean
    StreamTickets streamTickets() {
        return new StreamTickets(new SecureRandom(), Clock.systemUTC());
    }

    @Bean
    ApiKeys apiKeys(QwenProperties properties, AccessProperties access) {
        ApiKeys keys = new ApiKeys(properties.apiKeys());
        if (access.protectChat() && !keys.configured()) {
            throw new IllegalStateException("qwen.security.protect-chat (QWEN_PROTECT_CHAT) is on but no API key is set: "
                    + "set qwen.api-keys (QWEN_API_KEYS) to the keys chat users may enter");
        }
        return keys;
    }

    @Bean
    WebSecurityCustomizer firewallRejections() {
        return web -> web.requestRejectedHandler(new RejectedRequests());
    }

    @Bean
    SecurityFilterChain securityFilterChain(HttpSecurity http, AdminToken adminToken, ApiKeys apiKeys,
            StreamTickets tickets, AccessProperties access) throws Exception {
        CredentialFilter credentials = new CredentialFilter(
                new ProviderManager(new CredentialAuthenticationProvider(adminToken, apiKeys, tickets)),
                Map.of(ADMIN_EVENTS, StreamTickets.Purpose.ADMIN_EVENTS,
                        PATHS.matcher(HttpMethod.GET, "/ws/chat"), StreamTickets.Purpose.CHAT_SOCKET));

        LinkedHashMap<RequestMatcher, Challenge> areas = new LinkedHashMap<>();
        areas.put(ADMIN_API, Challenge.adminToken());
        areas.put(LAB_API, Challenge.adminToken());
        areas.put(PRESET_READS, Challenge.chatKey());
        areas.put(PRESETS, Challenge.adminToken());
        areas.put(CHAT_TICKET, Challenge.chatKey());
        areas.put(CHAT_SOCKET, Challenge.chatKey());
        areas.put(PDF_TEXT, Challenge.chatKey());
        areas.put(OPENAI_API, Challenge.openAiKey());
        Challenges challenges = new Challenges(areas, Challenge.notFound());

        http.authorizeHttpRequests(rules -> {
            // Error pages and the completion of async requests (SSE, streamed completions) are
            // dispatches of a request that was already authorized.
            rules.dispatcherTypeMatchers(DispatcherType.ERROR, DispatcherType.ASYNC).permitAll();
            rules.requestMatchers(ADMIN_API).hasRole(Roles.ADMIN);
            rules.requestMatchers(LAB_API).hasRole(Roles.ADMIN);
            // Reads before the write rule, which matches every method.
            requireApiKeyIf(access.protectChat(), rules.requestMatchers(PRESET_READS));
            rules.requestMatchers(PRESETS).hasRole(Roles.ADMIN);
            rules.requestMatchers(CHAT_TICKET).hasRole(Roles.API);
            requireApiKeyIf(access.protectChat(), rules.requestMatchers(CHAT_SOCKET));
            requireApiKeyIf(access.protectChat(), rules.requestMatchers(PDF_TEXT));
            requireApiKeyIf(apiKeys.configured(), rules.requestMatchers(OPENAI_API));
            rules.requestMatchers(PAGES_AND_ASSETS).permitAll();
            // Probes and scrapes: orchestrators and Prometheus call them without credentials.
            rules.requestMatchers(EndpointRequest.toAnyEndpoint()).permitAll();
            // Closed by default: a new endpoint stays unreachable until a rule above names it.
            rules.anyRequest().denyAll();
        });
        http.addFilterBefore(credentials, AnonymousAuthenticationFilter.class)
                .exceptionHandling(e -> e.authenticationEntryPoint(challenges).accessDeniedHandler(challenges))
                .csrf(csrf -> csrf.disable())
                .sessionManagement(s -> s.sessionCreationPolicy(SessionCreationPolicy.STATELESS))
                .requestCache(cache -> cache.disable())
                .formLogin(form -> form.disable())
                .httpBasic(basic -> basic.disable())
                .logout(logout -> logout.disable())
                .headers(headers -> headers
                        .contentSecurityPolicy(csp -> csp.policyDirectives(CONTENT_SECURITY_POLICY))
                        .referrerPolicy(referrer -> referrer.policy(ReferrerPolicy.NO_REFERRER)));
        return http.build();
    }

    private static void requireApiKeyIf(boolean required,
            AuthorizeHttpRequestsConfigurer<HttpSecurity>.AuthorizedUrl url) {
        if (required) url.hasRole(Roles.API);
        else url.permitAll();
    }
}
