package qwenchat.admin;

import java.security.SecureRandom;
import java.time.Clock;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One-time tickets for the dashboard's EventSource, which cannot send an Authorization header: the
 * page trades its bearer token for a random ticket that opens one stream within a short time, so
 * the token itself never appears in a URL or an access log.
 */
final class StreamTickets {

    static final long TTL_MILLIS = 30_000;
    private static final int MAX_OUTSTANDING = 1000;

    private final SecureRandom random;
    private final Clock clock;
    private final Map<String, Long> expiries = new ConcurrentHashMap<>();

    StreamTickets(SecureRandom random, Clock clock) {
        this.random = random;
        this.clock = clock;
    }

    String issue() {
        purgeExpired();
        if (expiries.size() >= MAX_OUTSTANDING) {
            throw new IllegalStateException("too many unused stream tickets (" + MAX_OUTSTANDING + ")");
        }
        byte[] bytes = new byte[24];
        random.nextBytes(bytes);
        String ticket = HexFormat.of().formatHex(bytes);
        expiries.put(ticket, clock.millis() + TTL_MILLIS);
        return ticket;
    }

    /** True once for a ticket issued less than {@link #TTL_MILLIS} ago; it is spent either way. */
    boolean redeem(String ticket) {
        if (ticket == null) return false;
        Long expiry = expiries.remove(ticket);
        return expiry != null && clock.millis() <= expiry;
    }

    private void purgeExpired() {
        long now = clock.millis();
        for (Iterator<Long> it = expiries.values().iterator(); it.hasNext(); ) {
            if (it.next() < now) it.remove();
        }
    }
}
