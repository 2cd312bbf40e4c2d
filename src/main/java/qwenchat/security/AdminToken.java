package qwenchat.security;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin credential: configured, or generated once at startup (256 random bits) and printed in
 * the log so the operator can copy it. Checked in constant time.
 */
public final class AdminToken {

    private static final Logger log = LoggerFactory.getLogger(AdminToken.class);

    private final byte[] token;

    private AdminToken(String token) {
        this.token = token.getBytes(StandardCharsets.UTF_8);
    }

    public static AdminToken of(String configured) {
        return new AdminToken(configured);
    }

    /** The configured token, or a fresh random one announced once in the log. */
    public static AdminToken fromConfigOrGenerate(String configured, SecureRandom random) {
        if (configured != null) return new AdminToken(configured);
        String generated = generate(random);
        log.warn("no admin token configured (QWEN_ADMIN_TOKEN / qwen.admin.token); generated one for this run: {}",
                generated);
        return new AdminToken(generated);
    }

    /** 256 random bits as 64 hex characters. */
    static String generate(SecureRandom random) {
        byte[] bytes = new byte[32];
        random.nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }

    /** Constant-time comparison of the UTF-8 bytes; null never matches. */
    public boolean matches(String presented) {
        if (presented == null) return false;
        return MessageDigest.isEqual(token, presented.getBytes(StandardCharsets.UTF_8));
    }
}
