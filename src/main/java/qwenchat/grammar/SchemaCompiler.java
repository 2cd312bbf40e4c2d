package qwenchat.grammar;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Compiles the JSON Schema subset that constrained decoding enforces into {@link Node}s.
 *
 * <p>Supported: {@code type} (one or several), {@code properties}, {@code required},
 * {@code additionalProperties}, {@code items}, {@code minItems}, {@code maxItems},
 * {@code minLength}, {@code maxLength}, {@code enum}, {@code const}, {@code anyOf} whose branches
 * start differently (e.g. a string or null), and {@code $ref} into {@code $defs}/{@code definitions}
 * without recursion. Annotations are ignored. Any other keyword would constrain values in a way the
 * grammar does not, so it is refused rather than silently not enforced.
 */
final class SchemaCompiler {

    static final int MAX_PROPERTIES = 64;
    static final int MAX_ENUM = 64;
    static final int MAX_DEPTH = 16;
    /** How deep free-form values ({@code {}} schemas, json_object) may nest. */
    static final int FREE_DEPTH = 4;

    private static final Set<String> ANNOTATIONS = Set.of("title", "description", "default", "examples", "$schema",
            "$id", "$comment", "$defs", "definitions", "additionalProperties", "strict", "name", "deprecated",
            "readOnly", "writeOnly");
    private static final Set<String> SUPPORTED = Set.of("type", "properties", "required", "items", "minItems", "maxItems",
            "minLength", "maxLength", "enum", "const", "anyOf", "$ref");
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final JsonNode root;
    private final Set<String> resolving = new HashSet<>();

    private SchemaCompiler(JsonNode root) {
        this.root = root;
    }

    static Node compile(JsonNode schema) {
        return new SchemaCompiler(schema).node(schema, "#", 0);
    }

    static Node anyObject() {
        return new Node.Any(FREE_DEPTH, true);
    }

    private Node node(JsonNode s, String path, int depth) {
        if (depth > MAX_DEPTH) throw new SchemaException(path, "nests deeper than " + MAX_DEPTH + " levels");
        if (s.isBoolean() && s.booleanValue()) return new Node.Any(FREE_DEPTH, false);
        if (!s.isObject()) throw new SchemaException(path, "a schema must be an object");
        for (String k : s.propertyNames()) {
            if (!SUPPORTED.contains(k) && !ANNOTATIONS.contains(k)) {
                throw new SchemaException(path + "/" + k, "keyword '" + k + "' is not supported by constrained decoding");
            }
        }
        if (s.has("$ref")) return ref(s.get("$ref"), path, depth);
        if (s.has("const")) return literals(List.of(s.get("const")), path + "/const");
        if (s.has("enum")) {
            JsonNode e = s.get("enum");
            if (!e.isArray() || e.isEmpty()) throw new SchemaException(path + "/enum", "enum must be a non-empty array");
            if (e.size() > MAX_ENUM) throw new SchemaException(path + "/enum", "at most " + MAX_ENUM + " values are supported");
            List<JsonNode> values = new ArrayList<>();
            e.forEach(values::add);
            return literals(values, path + "/enum");
        }
        if (s.has("anyOf")) {
            JsonNode a = s.get("anyOf");
            if (!a.isArray() || a.isEmpty()) throw new SchemaException(path + "/anyOf", "anyOf must be a non-empty array");
            List<Node> options = new ArrayList<>();
            for (int i = 0; i < a.size(); i++) options.add(node(a.get(i), path + "/anyOf/" + i, depth + 1));
            return union(options, path + "/anyOf");
        }
        JsonNode type = s.get("type");
        if (type == null) {
            if (s.has("properties")) return object(s, path, depth);
            return new Node.Any(FREE_DEPTH, false);
        }
        if (type.isArray()) {
            List<Node> options = new ArrayList<>();
            for (JsonNode t : type) options.add(typed(t, s, path, depth));
            return union(options, path + "/type");
        }
        return typed(type, s, path, depth);
    }

    private Node typed(JsonNode t, JsonNode s, String path, int depth) {
        if (!t.isString()) throw new SchemaException(path + "/type", "type must be a string or an array of strings");
        return switch (t.stringValue()) {
            case "object" -> object(s, path, depth);
            case "array" -> array(s, path, depth);
            case "string" -> new Node.Str(count(s, "minLength", path, 0), count(s, "maxLength", path, -1));
            case "number" -> new Node.Num(false);
            case "integer" -> new Node.Num(true);
            case "boolean" -> literals(List.of(JSON.getNodeFactory().booleanNode(true),
                    JSON.getNodeFactory().booleanNode(false)), path);
            case "null" -> literals(List.of(JSON.getNodeFactory().nullNode()), path);
            default -> throw new SchemaException(path + "/type", "unknown type '" + t.stringValue() + "'");
        };
    }

    private Node object(JsonNode s, String path, int depth) {
        JsonNode props = s.get("properties");
        Set<String> required = new HashSet<>();
        JsonNode req = s.get("required");
        if (req != null) {
            if (!req.isArray()) throw new SchemaException(path + "/required", "required must be an array of names");
            for (JsonNode r : req) {
                if (!r.isString()) throw new SchemaException(path + "/required", "required must be an array of names");
                required.add(r.stringValue());
            }
        }
        if (props == null || props.isEmpty()) {
            if (!required.isEmpty()) {
                throw new SchemaException(path + "/required", "names properties that 'properties' does not define");
            }
            JsonNode extra = s.get("additionalProperties");
            // No properties: an object of anything, unless nothing more is allowed.
            return extra != null && extra.isBoolean() && !extra.booleanValue()
                    ? new Node.Obj(List.of()) : new Node.Any(FREE_DEPTH, true);
        }
        if (!props.isObject()) throw new SchemaException(path + "/properties", "properties must be an object");
        if (props.size() > MAX_PROPERTIES) {
            throw new SchemaException(path + "/properties", "at most " + MAX_PROPERTIES + " properties are supported");
        }
        List<Node.Prop> out = new ArrayList<>();
        for (Map.Entry<String, JsonNode> p : props.properties()) {
            out.add(Node.Prop.of(p.getKey(), node(p.getValue(), path + "/properties/" + p.getKey(), depth + 1),
                    required.remove(p.getKey())));
        }
        if (!required.isEmpty()) {
            throw new SchemaException(path + "/required", "names " + required + ", which 'properties' does not define");
        }
        return new Node.Obj(out);
    }

    private Node array(JsonNode s, String path, int depth) {
        JsonNode items = s.get("items");
        Node item = items == null ? new Node.Any(FREE_DEPTH - 1, false) : node(items, path + "/items", depth + 1);
        int min = count(s, "minItems", path, 0);
        int max = count(s, "maxItems", path, -1);
        if (max >= 0 && max < min) throw new SchemaException(path + "/maxItems", "maxItems is below minItems");
        return new Node.Arr(item, min, max);
    }

    private Node ref(JsonNode ref, String path, int depth) {
        if (!ref.isString()) throw new SchemaException(path + "/$ref", "$ref must be a string");
        String target = ref.stringValue();
        if (!target.startsWith("#/")) throw new SchemaException(path + "/$ref", "only local references (#/...) are supported");
        JsonNode resolved = root.at(target.substring(1));
        if (resolved == null || resolved.isMissingNode()) throw new SchemaException(path + "/$ref", "'" + target + "' is not defined");
        if (!resolving.add(target)) throw new SchemaException(path + "/$ref", "recursive references are not supported");
        try {
            return node(resolved, target, depth + 1);
        } finally {
            resolving.remove(target);
        }
    }

    private static Node literals(List<JsonNode> values, String path) {
        List<byte[]> options = new ArrayList<>();
        for (JsonNode v : values) options.add(JsonMatcher.bytes(JSON.writeValueAsString(v)));
        return new Node.Lit(options);
    }

    private static Node union(List<Node> options, String path) {
        if (options.size() == 1) return options.get(0);
        for (int b = 0; b < 256; b++) {
            int starting = 0;
            for (Node n : options) if (n.startsWith(b)) starting++;
            if (starting > 1) {
                throw new SchemaException(path, "alternatives must differ in how they start (e.g. a string or null); "
                        + "two may begin with '" + (char) b + "'");
            }
        }
        return new Node.Union(options);
    }

    private static int count(JsonNode s, String field, String path, int absent) {
        JsonNode v = s.get(field);
        if (v == null) return absent;
        if (!v.isIntegralNumber() || v.longValue() < 0 || v.longValue() > 100_000) {
            throw new SchemaException(path + "/" + field, field + " must be an integer from 0 to 100000");
        }
        return v.intValue();
    }
}
