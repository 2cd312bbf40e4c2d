package qwenchat.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class StreamTicketsTest {

    /** A clock the test moves by hand. */
    static final class ManualClock extends Clock {
        Instant now = Instant.parse("2026-01-01T00:00:00Z");

        @Override public ZoneOffset getZone() { return ZoneOffset.UTC; }
        @Override public Clock withZone(java.time.ZoneId zone) { return this; }
        @Override public Instant instant() { return now; }
    }

    @Test
    void aTicketOpensOneStreamOnly() {
        StreamTickets t = new StreamTickets(new SecureRandom(), Clock.systemUTC());
        String ticket = t.issue();
        assertThat(t.redeem(ticket)).isTrue();
        assertThat(t.redeem(ticket)).isFalse();
    }

    @Test
    void ticketsExpire() {
        ManualClock clock = new ManualClock();
        StreamTickets t = new StreamTickets(new SecureRandom(), clock);
        String ticket = t.issue();
        clock.now = clock.now.plus(Duration.ofMillis(StreamTickets.TTL_MILLIS + 1));
        assertThat(t.redeem(ticket)).isFalse();
    }

    @Test
    void unknownAndMissingTicketsAreRefusedAndTicketsAreDistinct() {
        StreamTickets t = new StreamTickets(new SecureRandom(), Clock.systemUTC());
        assertThat(t.redeem(null)).isFalse();
        assertThat(t.redeem("not-a-ticket")).isFalse();
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 100; i++) assertThat(seen.add(t.issue())).isTrue();
        assertThat(seen).allMatch(s -> s.matches("[0-9a-f]{48}"));
    }

    @Test
    void tokenComparisonIsExactOnBytes() {
        AdminToken token = AdminToken.of("Sécret-Tok");
        assertThat(token.matches("Sécret-Tok")).isTrue();
        assertThat(token.matches("sécret-tok")).isFalse();
        assertThat(token.matches("Sécret-Tok ")).isFalse();
        assertThat(token.matches("Secret-Tok")).isFalse();
        assertThat(token.matches("")).isFalse();
        assertThat(token.matches(null)).isFalse();
    }

    @Test
    void generatedTokensHave256RandomBitsAndConfiguredOnesAreUsedVerbatim() {
        SecureRandom random = new SecureRandom();
        String a = AdminToken.generate(random);
        assertThat(a).matches("[0-9a-f]{64}");
        assertThat(AdminToken.generate(random)).isNotEqualTo(a);
        assertThat(AdminToken.fromConfigOrGenerate("given", random).matches("given")).isTrue();
        assertThat(AdminToken.fromConfigOrGenerate(null, random).matches("given")).isFalse();
    }
}
