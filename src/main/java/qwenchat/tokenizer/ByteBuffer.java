package qwenchat.tokenizer;

import java.util.Arrays;

/** Growable byte array for decoded token bytes. */
final class ByteBuffer {

    private byte[] items = new byte[64];
    private int size;

    void append(byte[] bytes) {
        if (size + bytes.length > items.length) {
            items = Arrays.copyOf(items, Math.max(items.length * 2, size + bytes.length));
        }
        System.arraycopy(bytes, 0, items, size, bytes.length);
        size += bytes.length;
    }

    /** Drops the first {@code count} bytes. */
    void discardFirst(int count) {
        System.arraycopy(items, count, items, 0, size - count);
        size -= count;
    }

    byte[] array() {
        return items;
    }

    int size() {
        return size;
    }
}
