package qwenchat.weights;

import java.util.List;

/** Lists problem tensors in an error message without letting a broken 72B checkpoint print thousands of names. */
final class NameList {
    static final int MAX_SHOWN = 10;

    private NameList() {
    }

    static String of(List<String> names) {
        if (names.size() <= MAX_SHOWN) return String.join(", ", names);
        return String.join(", ", names.subList(0, MAX_SHOWN)) + " and " + (names.size() - MAX_SHOWN) + " more";
    }
}
