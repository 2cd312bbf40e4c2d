package qwenchat.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import qwenchat.security.StreamTickets.Purpose;

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
        String ticket = t.issue(Purpose.ADMIN_EVENTS);
        assertThat(t.redeem(ticket, Purpose.ADMIN_EVENTS)).isTrue();
        assertThat(t.redeem(ticket, Purpose.ADMIN_EVENTS)).isFalse();
    }

    @Test
    void ticketsExpire() {
        ManualClock clock = new ManualClock();
        StreamTickets t = new StreamTickets(new SecureRandom(), clock);
        String ticket = t.issue(Purpose.ADMIN_EVENTS);
        clock.now = clock.now.plus(Duration.ofMillis(StreamTickets.TTL_MILLIS + 1));
        assertThat(t.redeem(ticket, Purpose.ADMIN_EVENTS)).isFalse();
    }

    @Test
    void unknownAndMissingTicketsAreRefusedAndTicketsAreDistinct() {
        StreamTickets t = new StreamTickets(new SecureRandom(), Clock.systemUTC());
        assertThat(t.redeem(null, Purpose.ADMIN_EVENTS)).isFalse();
        assertThat(t.redeem("not-a-ticket", Purpose.CHAT_SOCKET)).isFalse();
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 100; i++) assertThat(seen.add(t.issue(Purpose.ADMIN_EVENTS))).isTrue();
        assertThat(seen).allMatch(s -> s.matches("[0-9a-f]{48}"));
    }

    @Test
    void eachPurposeHasItsOwnLimitSoChatClientsCannotCrowdOutTheAdmin() {
        StreamTickets t = new StreamTickets(new SecureRandom(), Clock.systemUTC());
        for (int i = 0; i < 1000; i++) t.issue(Purpose.CHAT_SOCKET);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> t.issue(Purpose.CHAT_SOCKET))
                .isInstanceOf(StreamTickets.Exhausted.class).hasMessageContaining("chat socket tickets");
        assertThat(t.issue(Purpose.ADMIN_EVENTS)).isNotBlank();
    }

    @Test
    void aTicketOpensOnlyTheConnectionItWasIssuedFor() {
        StreamTickets t = new StreamTickets(new SecureRandom(), Clock.systemUTC());
        String chat = t.issue(Purpose.CHAT_SOCKET);
        assertThat(t.redeem(chat, Purpose.ADMIN_EVENTS)).isFalse();
        assertThat(t.redeem(chat, Purpose.CHAT_SOCKET)).isTrue();
        String admin = t.issue(Purpose.ADMIN_EVENTS);
        assertThat(t.redeem(admin, Purpose.CHAT_SOCKET)).isFalse();
        assertThat(t.redeem(admin, Purpose.ADMIN_EVENTS)).isTrue();
    }

    @Test
    void apiKeysMatchAnyConfiguredKeyExactly() {
        ApiKeys keys = new ApiKeys(java.util.List.of("first-key", "second-key"));
        assertThat(keys.configured()).isTrue();
        assertThat(keys.matches("second-key")).isTrue();
        assertThat(keys.matches("first-ke")).isFalse();
        assertThat(keys.matches("FIRST-KEY")).isFalse();
        assertThat(keys.matches(null)).isFalse();
        assertThat(new ApiKeys(java.util.List.of()).configured()).isFalse();
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
