package qwenchat.security;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;

/**
 * The accepted API keys ({@code qwen.api-keys}). Keys are compared as SHA-256 digests with a
 * constant-time comparison, against every key, so neither the length nor the position of a
 * near-miss leaks through timing.
 */
public final class ApiKeys {

    private final List<byte[]> digests;

    public ApiKeys(List<String> keys) {
        this.digests = keys.stream().map(ApiKeys::sha256).toList();
    }

    /** False when no key is configured: the API is then open. */
    public boolean configured() {
        return !digests.isEmpty();
    }

    public boolean matches(String presented) {
        if (presented == null) return false;
        byte[] digest = sha256(presented);
        boolean ok = false;
        for (byte[] k : digests) ok |= MessageDigest.isEqual(k, digest);
        return ok;
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }
}
