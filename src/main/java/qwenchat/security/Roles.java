package qwenchat.security;

/** The roles a credential can grant, as {@code hasRole} names them. */
final class Roles {

    /** The admin token: the admin API and preset changes. */
    static final String ADMIN = "ADMIN";
    /** An API key: {@code /v1/**}, and the chat page when it is protected. */
    static final String API = "API";

    private Roles() {
    }
}
