package qwenchat.api;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.springframework.stereotype.Component;
import qwenchat.grammar.GrammarCache;
import qwenchat.grammar.SchemaException;
import qwenchat.grammar.TokenConstraint;
import qwenchat.serving.ServedModel;
import qwenchat.tokenizer.QwenTokenizer;
import qwenchat.tools.ToolChoice;
import qwenchat.tools.ToolDefinition;
import tools.jackson.databind.JsonNode;

/**
 * Decides which grammar, if any, constrains a request's output: a forced tool call
 * ({@code tool_choice} required or named) first, then {@code response_format} json_schema or
 * json_object. Holds the grammar cache of the model being served (its vocabulary trie and the
 * compiled schemas of recent requests), built on first use.
 */
@Component
class OutputConstraints {

    private volatile GrammarCache grammars;

    /** A fresh constraint for one generation, or null when the output is free. */
    TokenConstraint forRequest(ServedModel model, ChatCompletionRequest req) {
        Set<Integer> eos = Set.copyOf(model.generationDefaults().eosTokenIds());
        if (req.toolsActive() && req.toolChoice().forcesCall()) {
            Map<String, JsonNode> functions = new LinkedHashMap<>();
            for (ToolDefinition t : req.tools()) {
                if (req.toolChoice().mode() == ToolChoice.Mode.NAMED && !t.name().equals(req.toolChoice().function())) continue;
                functions.put(t.name(), ApiErrors.JSON.valueToTree(t.parameters()));
            }
            try {
                return grammars(model.tokenizer(), eos).toolCall(functions).start();
            } catch (SchemaException e) {
                throw ApiException.invalid("tools", "tool_choice '" + req.toolChoice().mode().name().toLowerCase()
                        + "' constrains the call to the tools' parameter schemas, and " + e.getMessage());
            }
        }
        if (req.jsonSchema() != null) {
            try {
                return grammars(model.tokenizer(), eos).forSchema(req.jsonSchema()).start();
            } catch (SchemaException e) {
                throw ApiException.invalid("response_format.json_schema.schema", "the schema at " + e.getMessage());
            }
        }
        if (req.jsonObject()) return grammars(model.tokenizer(), eos).anyObject().start();
        return null;
    }

    private GrammarCache grammars(QwenTokenizer tokenizer, Set<Integer> eos) {
        GrammarCache g = grammars;
        if (g == null || !g.serves(tokenizer, eos)) {
            g = new GrammarCache(tokenizer, eos);
            grammars = g;
        }
        return g;
    }
}
