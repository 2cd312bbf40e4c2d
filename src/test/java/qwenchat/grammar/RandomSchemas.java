package qwenchat.grammar;

import java.util.Random;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/** Random JSON schemas within what constrained decoding supports, small enough to finish in a few dozen tokens. */
public final class RandomSchemas {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final String[] NAMES = {"id", "name", "age", "tags", "ok", "city", "score", "note", "x", "y_2",
            "naïve", "with space", "quote\"d", "a", "ab"};

    private RandomSchemas() {
    }

    /** A root schema: an object most of the time, as response formats are. */
    public static ObjectNode root(Random r) {
        return r.nextInt(10) < 8 ? object(r, 0, r.nextBoolean()) : any(r, 0);
    }

    static ObjectNode any(Random r, int depth) {
        int pick = depth >= 2 ? 2 + r.nextInt(6) : r.nextInt(8);
        return switch (pick) {
            case 0 -> object(r, depth, r.nextBoolean());
            case 1 -> array(r, depth);
            case 2 -> string(r);
            case 3 -> type(r.nextBoolean() ? "integer" : "number");
            case 4 -> type("boolean");
            case 5 -> enumeration(r);
            case 6 -> nullable(r);
            default -> r.nextBoolean() ? constant(r) : type("null");
        };
    }

    static ObjectNode type(String t) {
        return JSON.createObjectNode().put("type", t);
    }

    static ObjectNode object(Random r, int depth, boolean strict) {
        ObjectNode o = type("object");
        ObjectNode props = o.putObject("properties");
        ArrayNode required = JSON.createArrayNode();
        int n = 1 + r.nextInt(3);
        for (int i = 0; i < n; i++) {
            String name = NAMES[r.nextInt(NAMES.length)];
            if (props.has(name)) continue;
            props.set(name, any(r, depth + 1));
            if (strict || r.nextBoolean()) required.add(name);
        }
        o.set("required", required);
        if (strict || r.nextBoolean()) o.put("additionalProperties", false);
        return o;
    }

    static ObjectNode array(Random r, int depth) {
        ObjectNode a = type("array");
        a.set("items", any(r, depth + 1));
        int min = r.nextInt(3);
        if (r.nextBoolean()) a.put("minItems", min);
        if (r.nextBoolean()) a.put("maxItems", min + r.nextInt(3));
        return a;
    }

    static ObjectNode string(Random r) {
        ObjectNode s = type("string");
        if (r.nextInt(3) == 0) s.put("minLength", r.nextInt(3));
        if (r.nextInt(3) == 0) s.put("maxLength", 3 + r.nextInt(8));
        return s;
    }

    static ObjectNode enumeration(Random r) {
        ObjectNode e = JSON.createObjectNode();
        ArrayNode values = e.putArray("enum");
        values.add("red").add("green").add("gr\"een\u00e9");
        if (r.nextBoolean()) values.add(1).add(12).add(1.5);
        if (r.nextBoolean()) values.addNull().add(true);
        return e;
    }

    static ObjectNode nullable(Random r) {
        ObjectNode n = JSON.createObjectNode();
        ArrayNode types = n.putArray("type");
        types.add(r.nextBoolean() ? "string" : "integer").add("null");
        return n;
    }

    static ObjectNode constant(Random r) {
        ObjectNode c = JSON.createObjectNode();
        if (r.nextBoolean()) c.put("const", "fixed");
        else c.putObject("const").put("k", 1);
        return c;
    }
}
