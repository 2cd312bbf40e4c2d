package qwenchat.lab;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/** The last few lab runs, by id, so the page can download what it just showed; older ones are dropped. */
public final class LabHistory {

    private final int keep;
    private final Map<String, LabResult> runs = new LinkedHashMap<>();

    public LabHistory(int keep) {
        if (keep < 1) throw new IllegalArgumentException("the lab keeps at least one run, got " + keep);
        this.keep = keep;
    }

    public synchronized void add(LabResult r) {
        runs.put(r.id(), r);
        while (runs.size() > keep) runs.remove(runs.keySet().iterator().next());
    }

    public synchronized Optional<LabResult> get(String id) {
        return Optional.ofNullable(runs.get(id));
    }
}
