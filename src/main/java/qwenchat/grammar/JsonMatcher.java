package qwenchat.grammar;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A pushdown matcher over UTF-8 bytes for the JSON a {@link Node} tree allows. States are
 * immutable stacks of small frames, so a state can be shared, compared and used as a cache key,
 * and a token is tried by feeding its bytes one by one.
 *
 * <p>The texts it accepts are a canonical subset of JSON: no whitespace except at most one space
 * after {@code :} and {@code ,}, properties in schema order, no exponents, at most 15 digits before
 * and after the point, strings of well-formed UTF-8. Every accepted text is valid for the schema.
 * {@link #minClose} says how many bytes at least are still needed to finish, which lets the
 * constraint close the JSON before the length limit.
 */
final class JsonMatcher {

    private JsonMatcher() {
    }

    static final int MAX_DIGITS = 15;
    private static final Node.Lit TRUE_FALSE_NULL = new Node.Lit(List.of(bytes("true"), bytes("false"), bytes("null")));

    /** A stack of frames, top first; {@link #DONE} once the root value is complete. */
    record Stack(Frame top, Stack below) {
    }

    static final Stack DONE = new Stack(null, null);

    static Stack start(Node root) {
        return new Stack(new Value(root), null);
    }

    sealed interface Frame permits Value, Obj, Key, Arr, Str, Num, Lit, AnyObj, AnyArr, SeqF, BranchF {
    }

    /** Before the first byte of a value. */
    record Value(Node node) implements Frame {
    }

    // Container phases.
    static final int OPEN = 0, KEY = 1, COLON = 2, SPACE_OR_VALUE = 3, VALUE_NOSPACE = 4, VALUE = 5,
            AFTER_VALUE = 6, COMMA = 7, COMMA_SPACE = 8;

    /** {@code k}: the property being written (COLON..AFTER_VALUE), or the first candidate (COMMA, COMMA_SPACE). */
    record Obj(Node.Obj node, int k, int phase) implements Frame {
    }

    /** A property name after its opening quote; {@code alive} holds the candidate property indexes. */
    record Key(Node.Obj node, int pos, long alive) implements Frame {
    }

    record Arr(Node.Arr node, int count, int phase) implements Frame {
    }

    /**
     * Inside a string. {@code esc}: 0 plain, 1 after a backslash, 2..5 expecting the 1st..4th hex
     * digit of a \\u escape. {@code need}: UTF-8 continuation bytes still due, the next one in
     * [lo, hi]. {@code len} counts characters only when the schema bounds the length.
     */
    record Str(Node.Str node, int len, int esc, int need, int lo, int hi) implements Frame {
    }

    static final int N_START = 0, N_MINUS = 1, N_ZERO = 2, N_INT = 3, N_DOT = 4, N_FRAC = 5;

    record Num(boolean integer, int phase, int digits) implements Frame {
        boolean accepting() {
            return phase == N_ZERO || phase == N_INT || phase == N_FRAC;
        }
    }

    record Lit(Node.Lit node, int pos, long alive) implements Frame {
        boolean accepting() {
            for (int i = 0; i < node.options.size(); i++) {
                if ((alive & (1L << i)) != 0 && node.options.get(i).length == pos) return true;
            }
            return false;
        }
    }

    record AnyObj(Node.Any node, int phase) implements Frame {
    }

    record AnyArr(Node.Any node, int phase) implements Frame {
    }

    /** A sequence whose part {@code next - 1} is being written. */
    record SeqF(Node.Seq node, int next) implements Frame {
    }

    record BranchF(Node.Branch node, int pos, long alive) implements Frame {
    }

    /** Whether the text so far is a complete value (a number or literal may still go on). */
    static boolean canEnd(Stack s) {
        if (s == DONE) return true;
        if (s.below() != null) return false;
        return switch (s.top()) {
            case Num n -> n.accepting();
            case Lit l -> l.accepting();
            default -> false;
        };
    }

    /** The state after byte {@code b}, or null when {@code b} cannot come next. */
    static Stack feed(Stack s, int b) {
        if (s == DONE) return null;
        Stack below = s.below();
        return switch (s.top()) {
            case Value v -> begin(v.node(), below, b);
            case Str x -> str(x, below, b);
            case Num x -> num(x, below, b);
            case Lit x -> lit(x, below, b);
            case Key x -> key(x, below, b);
            case Obj x -> obj(x, below, b);
            case Arr x -> arr(x, below, b);
            case AnyObj x -> anyObj(x, below, b);
            case AnyArr x -> anyArr(x, below, b);
            case SeqF x -> throw new IllegalStateException("a sequence is never on top");
            case BranchF x -> branch(x, below, b);
        };
    }

    /** The first byte of a value of {@code node}, with {@code below} as the rest of the stack. */
    private static Stack begin(Node node, Stack below, int b) {
        if (node instanceof Node.Union u) node = u.resolve(b);
        if (node == null || !node.startsWith(b)) return null;
        return switch (node) {
            case Node.Obj o -> new Stack(new Obj(o, 0, OPEN), below);
            case Node.Arr a -> new Stack(new Arr(a, 0, OPEN), below);
            case Node.Str x -> new Stack(new Str(x, 0, 0, 0, 0, 0), below);
            case Node.Num n -> num(new Num(n.integer, N_START, 0), below, b);
            case Node.Lit l -> lit(new Lit(l, 0, all(l.options.size())), below, b);
            case Node.Any a -> {
                if (b == '{') yield new Stack(new AnyObj(a, OPEN), below);
                if (b == '[') yield new Stack(new AnyArr(a, OPEN), below);
                if (b == '"') yield new Stack(new Str(null, 0, 0, 0, 0, 0), below);
                if (b == 't' || b == 'f' || b == 'n') {
                    yield lit(new Lit(TRUE_FALSE_NULL, 0, all(3)), below, b);
                }
                yield num(new Num(false, N_START, 0), below, b);
            }
            case Node.Union u -> null; // resolved above
            case Node.Seq q -> begin(q.parts.get(0), new Stack(new SeqF(q, 1), below), b);
            case Node.Branch r -> branch(new BranchF(r, 0, all(r.literals.size())), below, b);
        };
    }

    /** The parent after its child value completed. */
    private static Stack finished(Stack below) {
        if (below == null) return DONE;
        Stack rest = below.below();
        return switch (below.top()) {
            case Obj o -> new Stack(new Obj(o.node(), o.k(), AFTER_VALUE), rest);
            case Arr a -> new Stack(new Arr(a.node(), a.count() + 1, AFTER_VALUE), rest);
            case AnyObj o -> new Stack(new AnyObj(o.node(), o.phase() == KEY ? COLON : AFTER_VALUE), rest);
            case AnyArr a -> new Stack(new AnyArr(a.node(), AFTER_VALUE), rest);
            case SeqF q -> q.next() == q.node().parts.size() ? finished(rest)
                    : new Stack(new Value(q.node().parts.get(q.next())), new Stack(new SeqF(q.node(), q.next() + 1), rest));
            default -> throw new IllegalStateException("a " + below.top().getClass().getSimpleName() + " has no children");
        };
    }

    private static Stack str(Str x, Stack below, int b) {
        boolean counts = x.node() != null && x.node().counts();
        int len = x.len();
        if (x.need() > 0) {
            if (b < x.lo() || b > x.hi()) return null;
            return new Stack(new Str(x.node(), len, 0, x.need() - 1, 0x80, 0xBF), below);
        }
        if (x.esc() == 1) {
            if (b == 'u') return new Stack(new Str(x.node(), len, 2, 0, 0, 0), below);
            if ("\"\\/bfnrt".indexOf(b) < 0) return null;
            return new Stack(new Str(x.node(), counts ? len + 1 : 0, 0, 0, 0, 0), below);
        }
        if (x.esc() >= 2) {
            boolean hex = (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F');
            if (!hex) return null;
            if (x.esc() == 5) return new Stack(new Str(x.node(), counts ? len + 1 : 0, 0, 0, 0, 0), below);
            return new Stack(new Str(x.node(), len, x.esc() + 1, 0, 0, 0), below);
        }
        if (b == '"') {
            if (counts && len < x.node().minLength) return null;
            return finished(below);
        }
        if (b < 0x20) return null;
        if (counts && x.node().maxLength >= 0 && len >= x.node().maxLength) return null;
        int next = counts ? len + 1 : 0;
        if (b == '\\') return new Stack(new Str(x.node(), len, 1, 0, 0, 0), below);
        if (b < 0x80) return new Stack(new Str(x.node(), next, 0, 0, 0, 0), below);
        // A lead byte and the range its first continuation byte must fall in (no overlongs, no surrogates).
        int need, lo = 0x80, hi = 0xBF;
        if (b >= 0xC2 && b <= 0xDF) {
            need = 1;
        } else if (b >= 0xE0 && b <= 0xEF) {
            need = 2;
            if (b == 0xE0) lo = 0xA0;
            if (b == 0xED) hi = 0x9F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            need = 3;
            if (b == 0xF0) lo = 0x90;
            if (b == 0xF4) hi = 0x8F;
        } else {
            return null;
        }
        return new Stack(new Str(x.node(), next, 0, need, lo, hi), below);
    }

    private static Stack num(Num x, Stack below, int b) {
        boolean digit = b >= '0' && b <= '9';
        switch (x.phase()) {
            case N_START -> {
                if (b == '-') return new Stack(new Num(x.integer(), N_MINUS, 0), below);
                if (b == '0') return new Stack(new Num(x.integer(), N_ZERO, 1), below);
                if (digit) return new Stack(new Num(x.integer(), N_INT, 1), below);
                return null;
            }
            case N_MINUS -> {
                if (b == '0') return new Stack(new Num(x.integer(), N_ZERO, 1), below);
                if (digit) return new Stack(new Num(x.integer(), N_INT, 1), below);
                return null;
            }
            case N_ZERO, N_INT -> {
                if (digit && x.phase() == N_INT && x.digits() < MAX_DIGITS) {
                    return new Stack(new Num(x.integer(), N_INT, x.digits() + 1), below);
                }
                if (b == '.' && !x.integer()) return new Stack(new Num(false, N_DOT, 0), below);
            }
            case N_DOT -> {
                return digit ? new Stack(new Num(false, N_FRAC, 1), below) : null;
            }
            case N_FRAC -> {
                if (digit && x.digits() < MAX_DIGITS) return new Stack(new Num(false, N_FRAC, x.digits() + 1), below);
            }
            default -> throw new IllegalStateException("number phase " + x.phase());
        }
        // The number is over: this byte belongs to whatever comes after it.
        return x.accepting() ? feed(finished(below), b) : null;
    }

    private static Stack lit(Lit x, Stack below, int b) {
        List<byte[]> options = x.node().options;
        long alive = 0;
        boolean longer = false, complete = false;
        for (int i = 0; i < options.size(); i++) {
            if ((x.alive() & (1L << i)) == 0) continue;
            byte[] o = options.get(i);
            if (x.pos() < o.length && (o[x.pos()] & 0xff) == b) {
                alive |= 1L << i;
                if (o.length == x.pos() + 1) complete = true;
                else longer = true;
            }
        }
        if (alive == 0) return x.accepting() ? feed(finished(below), b) : null;
        // Done at once unless a longer option (only numbers can extend another) keeps it open.
        if (complete && !longer) return finished(below);
        return new Stack(new Lit(x.node(), x.pos() + 1, alive), below);
    }

    private static Stack key(Key x, Stack below, int b) {
        List<Node.Prop> props = x.node().props;
        long alive = 0;
        int complete = -1;
        for (int i = 0; i < props.size(); i++) {
            if ((x.alive() & (1L << i)) == 0) continue;
            byte[] k = props.get(i).key();
            if (x.pos() < k.length && (k[x.pos()] & 0xff) == b) {
                alive |= 1L << i;
                if (k.length == x.pos() + 1) complete = i;
            }
        }
        if (alive == 0) return null;
        // Names end with an unescaped quote, so at most one candidate completes, and none goes on past it.
        if (complete >= 0) return new Stack(new Obj(x.node(), complete, COLON), below.below());
        return new Stack(new Key(x.node(), x.pos() + 1, alive), below);
    }

    private static Stack branch(BranchF x, Stack below, int b) {
        List<byte[]> literals = x.node().literals;
        long alive = 0;
        int complete = -1;
        for (int i = 0; i < literals.size(); i++) {
            if ((x.alive() & (1L << i)) == 0) continue;
            byte[] l = literals.get(i);
            if (x.pos() < l.length && (l[x.pos()] & 0xff) == b) {
                alive |= 1L << i;
                if (l.length == x.pos() + 1) complete = i;
            }
        }
        if (alive == 0) return null;
        if (complete >= 0) return new Stack(new Value(x.node().then.get(complete)), below);
        return new Stack(new BranchF(x.node(), x.pos() + 1, alive), below);
    }

    private static long candidates(Node.Obj o, int from) {
        long mask = 0;
        int last = o.lastCandidate(from);
        for (int i = from; i <= last; i++) mask |= 1L << i;
        return mask;
    }

    private static Stack obj(Obj x, Stack below, int b) {
        Node.Obj o = x.node();
        switch (x.phase()) {
            case OPEN -> {
                if (b == '}' && !o.requiredFrom(0)) return finished(below);
                if (b == '"' && !o.props.isEmpty()) return openKey(o, 0, below);
                return null;
            }
            case COLON -> {
                return b == ':' ? new Stack(new Obj(o, x.k(), SPACE_OR_VALUE), below) : null;
            }
            case SPACE_OR_VALUE, VALUE_NOSPACE -> {
                if (b == ' ' && x.phase() == SPACE_OR_VALUE) return new Stack(new Obj(o, x.k(), VALUE_NOSPACE), below);
                return begin(o.props.get(x.k()).value(), new Stack(new Obj(o, x.k(), VALUE), below), b);
            }
            case AFTER_VALUE -> {
                if (b == '}' && !o.requiredFrom(x.k() + 1)) return finished(below);
                if (b == ',' && x.k() + 1 < o.props.size()) return new Stack(new Obj(o, x.k() + 1, COMMA), below);
                return null;
            }
            case COMMA, COMMA_SPACE -> {
                if (b == ' ' && x.phase() == COMMA) return new Stack(new Obj(o, x.k(), COMMA_SPACE), below);
                return b == '"' ? openKey(o, x.k(), below) : null;
            }
            default -> throw new IllegalStateException("object phase " + x.phase());
        }
    }

    private static Stack openKey(Node.Obj o, int from, Stack below) {
        return new Stack(new Key(o, 1, candidates(o, from)), new Stack(new Obj(o, from, KEY), below));
    }

    private static Stack arr(Arr x, Stack below, int b) {
        Node.Arr a = x.node();
        boolean room = a.maxItems < 0 || x.count() < a.maxItems;
        switch (x.phase()) {
            case OPEN -> {
                if (b == ']' && a.minItems == 0) return finished(below);
                return room ? begin(a.items, new Stack(new Arr(a, 0, VALUE), below), b) : null;
            }
            case AFTER_VALUE -> {
                if (b == ']' && x.count() >= a.minItems) return finished(below);
                if (b == ',' && room) return new Stack(new Arr(a, x.count(), COMMA), below);
                return null;
            }
            case COMMA, COMMA_SPACE -> {
                if (b == ' ' && x.phase() == COMMA) return new Stack(new Arr(a, x.count(), COMMA_SPACE), below);
                return begin(a.items, new Stack(new Arr(a, x.count(), VALUE), below), b);
            }
            default -> throw new IllegalStateException("array phase " + x.phase());
        }
    }

    private static Stack anyObj(AnyObj x, Stack below, int b) {
        Node.Any a = x.node();
        switch (x.phase()) {
            case OPEN -> {
                if (b == '}') return finished(below);
                return b == '"' ? new Stack(new Str(null, 0, 0, 0, 0, 0), new Stack(new AnyObj(a, KEY), below)) : null;
            }
            case COLON -> {
                return b == ':' ? new Stack(new AnyObj(a, SPACE_OR_VALUE), below) : null;
            }
            case SPACE_OR_VALUE, VALUE_NOSPACE -> {
                if (b == ' ' && x.phase() == SPACE_OR_VALUE) return new Stack(new AnyObj(a, VALUE_NOSPACE), below);
                return begin(a.child, new Stack(new AnyObj(a, VALUE), below), b);
            }
            case AFTER_VALUE -> {
                if (b == '}') return finished(below);
                return b == ',' ? new Stack(new AnyObj(a, COMMA), below) : null;
            }
            case COMMA, COMMA_SPACE -> {
                if (b == ' ' && x.phase() == COMMA) return new Stack(new AnyObj(a, COMMA_SPACE), below);
                return b == '"' ? new Stack(new Str(null, 0, 0, 0, 0, 0), new Stack(new AnyObj(a, KEY), below)) : null;
            }
            default -> throw new IllegalStateException("object phase " + x.phase());
        }
    }

    private static Stack anyArr(AnyArr x, Stack below, int b) {
        Node.Any a = x.node();
        switch (x.phase()) {
            case OPEN -> {
                if (b == ']') return finished(below);
                return begin(a.child, new Stack(new AnyArr(a, VALUE), below), b);
            }
            case AFTER_VALUE -> {
                if (b == ']') return finished(below);
                return b == ',' ? new Stack(new AnyArr(a, COMMA), below) : null;
            }
            case COMMA, COMMA_SPACE -> {
                if (b == ' ' && x.phase() == COMMA) return new Stack(new AnyArr(a, COMMA_SPACE), below);
                return begin(a.child, new Stack(new AnyArr(a, VALUE), below), b);
            }
            default -> throw new IllegalStateException("array phase " + x.phase());
        }
    }

    /** The fewest bytes that finish the JSON from this state. */
    static int minClose(Stack s) {
        int total = 0;
        for (Stack at = s; at != null && at != DONE; at = at.below()) total += rest(at.top());
        return total;
    }

    /** Bytes this frame still needs, not counting a child above it. */
    private static int rest(Frame f) {
        return switch (f) {
            case Value v -> v.node().minLength();
            case Str x -> (x.esc() == 1 ? 1 : x.esc() >= 2 ? 6 - x.esc() : 0) + x.need()
                    + (x.node() != null && x.node().counts() ? Math.max(0, x.node().minLength - x.len()) : 0) + 1;
            case Num x -> x.accepting() ? 0 : 1;
            case Lit x -> {
                int min = Integer.MAX_VALUE;
                for (int i = 0; i < x.node().options.size(); i++) {
                    if ((x.alive() & (1L << i)) != 0) min = Math.min(min, x.node().options.get(i).length - x.pos());
                }
                yield min;
            }
            case Key x -> {
                int min = Integer.MAX_VALUE;
                for (int i = 0; i < x.node().props.size(); i++) {
                    if ((x.alive() & (1L << i)) == 0) continue;
                    Node.Prop p = x.node().props.get(i);
                    min = Math.min(min, p.key().length - x.pos() + 1 + p.value().minLength() + x.node().restFrom(i + 1));
                }
                yield min;
            }
            case Obj x -> {
                Node.Obj o = x.node();
                yield switch (x.phase()) {
                    case OPEN -> o.restAfterOpen();
                    case KEY -> 0;
                    case COLON -> 1 + o.props.get(x.k()).value().minLength() + o.restFrom(x.k() + 1);
                    case SPACE_OR_VALUE, VALUE_NOSPACE -> o.props.get(x.k()).value().minLength() + o.restFrom(x.k() + 1);
                    case VALUE, AFTER_VALUE -> o.restFrom(x.k() + 1);
                    default -> { // COMMA, COMMA_SPACE: a property must follow
                        int min = Integer.MAX_VALUE;
                        for (int i = x.k(); i <= o.lastCandidate(x.k()); i++) {
                            Node.Prop p = o.props.get(i);
                            min = Math.min(min, p.key().length + 1 + p.value().minLength() + o.restFrom(i + 1));
                        }
                        yield min;
                    }
                };
            }
            case Arr x -> {
                Node.Arr a = x.node();
                int item = a.items.minLength();
                yield switch (x.phase()) {
                    case OPEN -> a.minLength() - 1;
                    case VALUE -> Math.max(0, a.minItems - x.count() - 1) * (1 + item) + 1;
                    case AFTER_VALUE -> Math.max(0, a.minItems - x.count()) * (1 + item) + 1;
                    default -> item + Math.max(0, a.minItems - x.count() - 1) * (1 + item) + 1;
                };
            }
            case AnyObj x -> switch (x.phase()) {
                case OPEN, VALUE, AFTER_VALUE -> 1;
                case KEY, COLON -> 3;
                case SPACE_OR_VALUE, VALUE_NOSPACE -> 2;
                default -> 5;
            };
            case AnyArr x -> x.phase() == COMMA || x.phase() == COMMA_SPACE ? 2 : 1;
            case SeqF x -> x.node().minLengthFrom(x.next());
            case BranchF x -> {
                int min = Integer.MAX_VALUE;
                for (int i = 0; i < x.node().literals.size(); i++) {
                    if ((x.alive() & (1L << i)) != 0) {
                        min = Math.min(min, x.node().literals.get(i).length - x.pos() + x.node().then.get(i).minLength());
                    }
                }
                yield min;
            }
        };
    }

    private static long all(int n) {
        return n >= 64 ? -1L : (1L << n) - 1;
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
