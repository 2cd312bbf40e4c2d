package qwenchat.grammar;

import java.nio.charset.StandardCharsets;
import java.util.List;
import qwenchat.tokenizer.PythonJson;

/**
 * A compiled piece of a JSON schema: what text may stand for one JSON value. Identity, not
 * structure, is equality, so matcher states that point at nodes hash cheaply.
 */
abstract sealed class Node permits Node.Obj, Node.Arr, Node.Str, Node.Num, Node.Lit, Node.Union, Node.Any, Node.Seq,
        Node.Branch {

    /** Bytes of the shortest text this node accepts; the matcher uses it to close JSON in time. */
    abstract int minLength();

    /** Whether a value of this node may begin with {@code b}. */
    abstract boolean startsWith(int b);

    /** A property in the order the output writes it. */
    record Prop(byte[] key, Node value, boolean required) {
        /** {@code "name"} */
        static Prop of(String name, Node value, boolean required) {
            return new Prop(quoted(name), value, required);
        }
    }

    static byte[] quoted(String s) {
        return PythonJson.quote(s).getBytes(StandardCharsets.UTF_8);
    }

    static final class Obj extends Node {
        final List<Prop> props;
        /**
         * rest[k]: bytes to finish the object when at least one property is written and properties
         * from k on are still to come: each later required one with its comma, then '}'.
         */
        private final int[] rest;

        Obj(List<Prop> props) {
            this.props = List.copyOf(props);
            rest = new int[props.size() + 1];
            rest[props.size()] = 1;
            for (int k = props.size() - 1; k >= 0; k--) {
                Prop p = props.get(k);
                rest[k] = rest[k + 1] + (p.required() ? 1 + p.key().length + 1 + p.value().minLength() : 0);
            }
        }

        int restFrom(int next) {
            return rest[next];
        }

        /** Bytes to finish right after '{': like {@link #restFrom} but the first property needs no comma. */
        int restAfterOpen() {
            return requiredFrom(0) ? rest[0] - 1 : 1;
        }

        /** The last property that may come next when properties from {@code from} on are left: the first required one. */
        int lastCandidate(int from) {
            for (int i = from; i < props.size(); i++) if (props.get(i).required()) return i;
            return props.size() - 1;
        }

        boolean requiredFrom(int from) {
            for (int i = from; i < props.size(); i++) if (props.get(i).required()) return true;
            return false;
        }

        @Override
        int minLength() {
            return 1 + restAfterOpen();
        }

        @Override
        boolean startsWith(int b) {
            return b == '{';
        }
    }

    static final class Arr extends Node {
        final Node items;
        final int minItems;
        final int maxItems; // -1: unbounded

        Arr(Node items, int minItems, int maxItems) {
            this.items = items;
            this.minItems = minItems;
            this.maxItems = maxItems;
        }

        @Override
        int minLength() {
            return 2 + (minItems == 0 ? 0 : minItems * items.minLength() + minItems - 1);
        }

        @Override
        boolean startsWith(int b) {
            return b == '[';
        }
    }

    static final class Str extends Node {
        final int minLength;
        final int maxLength; // -1: unbounded

        Str(int minLength, int maxLength) {
            this.minLength = minLength;
            this.maxLength = maxLength;
        }

        boolean counts() {
            return minLength > 0 || maxLength >= 0;
        }

        @Override
        int minLength() {
            return 2 + minLength;
        }

        @Override
        boolean startsWith(int b) {
            return b == '"';
        }
    }

    static final class Num extends Node {
        final boolean integer;

        Num(boolean integer) {
            this.integer = integer;
        }

        @Override
        int minLength() {
            return 1;
        }

        @Override
        boolean startsWith(int b) {
            return b == '-' || (b >= '0' && b <= '9');
        }
    }

    /** A choice of exact texts: enum, const, true, false, null. */
    static final class Lit extends Node {
        final List<byte[]> options;

        Lit(List<byte[]> options) {
            this.options = List.copyOf(options);
        }

        @Override
        int minLength() {
            int min = Integer.MAX_VALUE;
            for (byte[] o : options) min = Math.min(min, o.length);
            return min;
        }

        @Override
        boolean startsWith(int b) {
            for (byte[] o : options) if ((o[0] & 0xff) == b) return true;
            return false;
        }
    }

    /** Alternatives that differ in their first byte, so the first byte decides. */
    static final class Union extends Node {
        final List<Node> options;

        Union(List<Node> options) {
            this.options = List.copyOf(options);
        }

        Node resolve(int b) {
            for (Node n : options) if (n.startsWith(b)) return n;
            return null;
        }

        @Override
        int minLength() {
            int min = Integer.MAX_VALUE;
            for (Node n : options) min = Math.min(min, n.minLength());
            return min;
        }

        @Override
        boolean startsWith(int b) {
            return resolve(b) != null;
        }
    }

    /** Any JSON value nested at most {@code depth} containers deep (an object only, when asked). */
    static final class Any extends Node {
        final int depth;
        final boolean objectOnly;
        /** The node for values inside this one's containers: one instance per depth, so states repeat. */
        final Any child;

        Any(int depth, boolean objectOnly) {
            this.depth = depth;
            this.objectOnly = objectOnly;
            this.child = depth > 0 ? new Any(depth - 1, false) : null;
        }

        @Override
        int minLength() {
            return objectOnly ? 2 : 1;
        }

        @Override
        boolean startsWith(int b) {
            if (objectOnly) return b == '{';
            return ((b == '{' || b == '[') && depth > 0) || b == '"' || b == 't' || b == 'f' || b == 'n' || b == '-'
                    || (b >= '0' && b <= '9');
        }
    }

    /** Parts written one after another (a literal prefix, a value, a literal suffix). */
    static final class Seq extends Node {
        final List<Node> parts;

        Seq(List<Node> parts) {
            this.parts = List.copyOf(parts);
        }

        int minLengthFrom(int i) {
            int n = 0;
            for (int j = i; j < parts.size(); j++) n += parts.get(j).minLength();
            return n;
        }

        @Override
        int minLength() {
            return minLengthFrom(0);
        }

        @Override
        boolean startsWith(int b) {
            return parts.get(0).startsWith(b);
        }
    }

    /**
     * One of several literals, each followed by its own node: the function name decides the
     * arguments' schema. Every literal ends in a way no other one continues (a closing quote and
     * what follows it), so at most one completes.
     */
    static final class Branch extends Node {
        final List<byte[]> literals;
        final List<Node> then;

        Branch(List<byte[]> literals, List<Node> then) {
            this.literals = List.copyOf(literals);
            this.then = List.copyOf(then);
        }

        @Override
        int minLength() {
            int min = Integer.MAX_VALUE;
            for (int i = 0; i < literals.size(); i++) min = Math.min(min, literals.get(i).length + then.get(i).minLength());
            return min;
        }

        @Override
        boolean startsWith(int b) {
            for (byte[] l : literals) if ((l[0] & 0xff) == b) return true;
            return false;
        }
    }
}
