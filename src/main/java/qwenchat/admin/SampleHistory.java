package qwenchat.admin;

import java.util.ArrayList;
import java.util.List;

/** A fixed-size ring of the latest samples, so a freshly opened dashboard shows the last minutes at once. */
final class SampleHistory {

    private final Sample[] ring;
    private int next;
    private int size;

    SampleHistory(int capacity) {
        if (capacity < 1) throw new IllegalArgumentException("history capacity must be >= 1, got " + capacity);
        ring = new Sample[capacity];
    }

    synchronized void add(Sample s) {
        ring[next] = s;
        next = (next + 1) % ring.length;
        if (size < ring.length) size++;
    }

    /** Oldest first. */
    synchronized List<Sample> snapshot() {
        List<Sample> out = new ArrayList<>(size);
        int start = (next - size + ring.length) % ring.length;
        for (int i = 0; i < size; i++) out.add(ring[(start + i) % ring.length]);
        return out;
    }
}
