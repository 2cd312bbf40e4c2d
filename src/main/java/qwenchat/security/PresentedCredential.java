package qwenchat.security;

import java.util.List;
import org.springframework.security.authentication.AbstractAuthenticationToken;

/**
 * What a request presented before it is checked: a bearer value, or a one-time ticket for the
 * connection it opens. Never authenticated itself; {@link CredentialAuthenticationProvider}
 * turns it into the roles it grants.
 */
final class PresentedCredential extends AbstractAuthenticationToken {

    enum Kind { BEARER, TICKET }

    private final Kind kind;
    private final String value;
    private final StreamTickets.Purpose purpose;

    private PresentedCredential(Kind kind, String value, StreamTickets.Purpose purpose) {
        super(List.of());
        this.kind = kind;
        this.value = value;
        this.purpose = purpose;
        setAuthenticated(false);
    }

    static PresentedCredential bearer(String value) {
        return new PresentedCredential(Kind.BEARER, value, null);
    }

    static PresentedCredential ticket(String value, StreamTickets.Purpose purpose) {
        return new PresentedCredential(Kind.TICKET, value, purpose);
    }

    Kind kind() {
        return kind;
    }

    String value() {
        return value;
    }

    StreamTickets.Purpose purpose() {
        return purpose;
    }

    @Override
    public Object getCredentials() {
        return value;
    }

    @Override
    public Object getPrincipal() {
        return kind == Kind.BEARER ? "bearer" : "ticket:" + purpose;
    }

    @Override
    public void eraseCredentials() {
        // Immutable on purpose: the value is dropped with this object after the request.
    }
}
