package qwenchat.security;

import java.util.List;
import org.springframework.security.authentication.AuthenticationProvider;
import org.springframework.security.authentication.BadCredentialsException;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.AuthenticationException;
import org.springframework.security.core.authority.SimpleGrantedAuthority;
import org.springframework.security.web.authentication.preauth.PreAuthenticatedAuthenticationToken;

/**
 * Checks a {@link PresentedCredential}: the admin token grants {@link Roles#ADMIN}, a configured
 * API key {@link Roles#API}; a ticket grants the role of whoever bought it, for the one
 * connection it was bought for. Both secrets are compared in constant time.
 */
final class CredentialAuthenticationProvider implements AuthenticationProvider {

    private final AdminToken adminToken;
    private final ApiKeys apiKeys;
    private final StreamTickets tickets;

    CredentialAuthenticationProvider(AdminToken adminToken, ApiKeys apiKeys, StreamTickets tickets) {
        this.adminToken = adminToken;
        this.apiKeys = apiKeys;
        this.tickets = tickets;
    }

    @Override
    public Authentication authenticate(Authentication authentication) throws AuthenticationException {
        PresentedCredential presented = (PresentedCredential) authentication;
        return switch (presented.kind()) {
            case BEARER -> {
                if (adminToken.matches(presented.value())) yield granted("admin", Roles.ADMIN);
                if (apiKeys.matches(presented.value())) yield granted("api-client", Roles.API);
                throw new BadCredentialsException("the bearer credential matches no admin token or API key");
            }
            case TICKET -> {
                if (!tickets.redeem(presented.value(), presented.purpose())) {
                    throw new BadCredentialsException("unknown, spent or expired ticket");
                }
                yield switch (presented.purpose()) {
                    case ADMIN_EVENTS -> granted("admin", Roles.ADMIN);
                    case CHAT_SOCKET -> granted("api-client", Roles.API);
                };
            }
        };
    }

    private static Authentication granted(String principal, String role) {
        return new PreAuthenticatedAuthenticationToken(principal, null,
                List.of(new SimpleGrantedAuthority("ROLE_" + role)));
    }

    @Override
    public boolean supports(Class<?> authentication) {
        return PresentedCredential.class.isAssignableFrom(authentication);
    }
}
