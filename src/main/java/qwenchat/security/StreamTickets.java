package qwenchat.security;

import java.security.SecureRandom;
import java.time.Clock;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One-time tickets for connections a browser cannot open with an Authorization header
 * (EventSource, WebSocket): the page trades its bearer credential for a random ticket that opens
 * one connection within a short time, so the credential itself never appears in a URL or an
 * access log. Each purpose has its own pool, so a chat ticket never opens the admin stream and
 * API clients cannot crowd out the admin's tickets.
 */
public final class StreamTickets {

    /** What a ticket opens. */
    public enum Purpose {
        /** The admin dashboard's event stream; bought with the admin token. */
        ADMIN_EVENTS,
        /** The chat page's WebSocket when the chat is protected; bought with an API key. */
        CHAT_SOCKET
    }

    /** Every ticket of a purpose is outstanding; the oldest expire within {@link #TTL_MILLIS}. */
    public static final class Exhausted extends IllegalStateException {
        Exhausted(Purpose purpose) {
            super("too many unused " + purpose.name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ')
                    + " tickets (" + MAX_OUTSTANDING + "); try again in a few seconds");
        }
    }

    public static final long TTL_MILLIS = 30_000;
    private static final int MAX_OUTSTANDING = 1000;

    private final SecureRandom random;
    private final Clock clock;
    private final Map<Purpose, Map<String, Long>> expiries = new EnumMap<>(Purpose.class);

    public StreamTickets(SecureRandom random, Clock clock) {
        this.random = random;
        this.clock = clock;
        for (Purpose p : Purpose.values()) expiries.put(p, new ConcurrentHashMap<>());
    }

    public String issue(Purpose purpose) {
        Map<String, Long> pool = expiries.get(purpose);
        purgeExpired(pool);
        if (pool.size() >= MAX_OUTSTANDING) throw new Exhausted(purpose);
        byte[] bytes = new byte[24];
        random.nextBytes(bytes);
        String ticket = HexFormat.of().formatHex(bytes);
        pool.put(ticket, clock.millis() + TTL_MILLIS);
        return ticket;
    }

    /** True once for a ticket of this purpose issued less than {@link #TTL_MILLIS} ago; it is spent either way. */
    public boolean redeem(String ticket, Purpose purpose) {
        if (ticket == null) return false;
        Long expiry = expiries.get(purpose).remove(ticket);
        return expiry != null && clock.millis() <= expiry;
    }

    private void purgeExpired(Map<String, Long> pool) {
        long now = clock.millis();
        for (Iterator<Long> it = pool.values().iterator(); it.hasNext(); ) {
            if (it.next() < now) it.remove();
        }
    }
}
