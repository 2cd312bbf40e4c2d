package qwenchat.engine.kv;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Names the contents of a full KV block: 128 bits of SHA-256 over the name of the block before it
 * and this block's token ids. Because the parent's name is part of it, two blocks share a name only
 * when the whole prefix up to and including them is the same, which is what makes their keys and
 * values interchangeable (a token's KV depends on every token before it).
 */
record BlockHash(long high, long low) {

    /** The parent of a sequence's first block. */
    static final BlockHash ROOT = new BlockHash(0, 0);

    /** Hashes block after block; one per manager, since a digest is not thread-safe. */
    static final class Hasher {
        private final MessageDigest sha;
        private ByteBuffer bytes = ByteBuffer.allocate(16 + 4 * 64);

        Hasher() {
            try {
                sha = MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("the JDK has no SHA-256", e);
            }
        }

        BlockHash of(BlockHash parent, int[] tokens, int from, int count) {
            int size = 16 + 4 * count;
            if (bytes.capacity() < size) bytes = ByteBuffer.allocate(size);
            bytes.clear();
            bytes.putLong(parent.high).putLong(parent.low);
            for (int i = 0; i < count; i++) bytes.putInt(tokens[from + i]);
            sha.update(bytes.array(), 0, size);
            ByteBuffer d = ByteBuffer.wrap(sha.digest());
            return new BlockHash(d.getLong(), d.getLong());
        }
    }
}
