package qwenchat.cli;

import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import qwenchat.demo.DemoCheckpoint;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.cpu.CpuEngine;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.generation.GenerationResult;
import qwenchat.generation.Generator;
import qwenchat.generation.TextDecoder;
import qwenchat.model.ModelConfigException;
import qwenchat.weights.ModelDirectory;
import qwenchat.generation.GenerationRequest;
import qwenchat.tokenizer.ChatTemplate;
import qwenchat.tokenizer.QwenTokenizer;
import qwenchat.weights.Checkpoint;

/**
 * {@code generate [--model DIR] (--prompt TEXT | --chat MESSAGES.json | --prompt-ids 1,2,3) ...}: runs
 * one generation on the CPU engine, streaming text to stdout, or printing one JSON object with
 * {@code --json}. Without {@code --model} it uses the demo checkpoint (random weights).
 */
public final class GenerateCommand implements CliCommand {

    static final String USAGE = """
            usage: generate [--model DIR] (--prompt TEXT | --chat MESSAGES.json|- | --prompt-ids 1,2,3)
                            [--max-new-tokens N] [--temperature T] [--top-p P] [--top-k K] [--seed S] [--greedy]
                            [--stop TEXT] [--json]
              --model DIR       Hugging Face Qwen2/Qwen2.5 directory; default: the demo checkpoint (random weights)
              --prompt TEXT     a user message, rendered with the Qwen2.5 chat template (default system prompt)
              --chat FILE       a JSON array of {"role","content"} messages, rendered with the chat template
              --prompt-ids IDS  raw token ids, no template
              sampling defaults come from the model's generation_config.json; --greedy picks the argmax
              --json            print {ids, text, finish_reason, usage, steps (top-5 ids and logprobs per token)}""";

    private static final int TOP_LOGPROBS = 5;

    @Override
    public int run(List<String> args, InputStream stdin, PrintStream out, PrintStream err) {
        if (args.contains("--help")) {
            out.println(USAGE);
            return 0;
        }
        List<String> stops = new ArrayList<>();
        List<String> rest = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            if (args.get(i).equals("--stop")) {
                if (i + 1 >= args.size()) throw new CliException("generate: option --stop needs a value");
                stops.add(args.get(++i));
            } else {
                rest.add(args.get(i));
            }
        }
        TokenizerArgs o = new TokenizerArgs("generate", rest,
                Set.of("--model", "--prompt", "--chat", "--prompt-ids", "--max-new-tokens", "--temperature", "--top-p",
                        "--top-k", "--seed", "--threads"),
                Set.of("--greedy", "--json"));
        int sources = (o.has("--prompt") ? 1 : 0) + (o.has("--chat") ? 1 : 0) + (o.has("--prompt-ids") ? 1 : 0);
        if (sources != 1) {
            throw new CliException("generate: give exactly one of --prompt, --chat or --prompt-ids\n" + USAGE);
        }
        if (o.has("--greedy") && (o.has("--temperature") || o.has("--top-p") || o.has("--top-k"))) {
            throw new CliException("generate: --greedy cannot be combined with --temperature, --top-p or --top-k");
        }
        ModelDirectory model;
        try {
            model = o.has("--model") ? ModelDirectory.resolve(Path.of(o.required("--model"))) : DemoCheckpoint.ensure();
        } catch (ModelConfigException e) {
            throw new CliException("generate: --model: " + e.getMessage());
        }
        if (model.demo()) {
            err.println("note: using " + model.displayName() + " from " + model.dir()
                    + "; its output is gibberish. Pass --model DIR for a real Qwen2.5 checkpoint.");
        }
        QwenTokenizer tokenizer = model.tokenizer();
        int[] prompt = promptIds(o, stdin, tokenizer);
        for (int id : prompt) {
            if (id < 0 || id >= model.config().vocabSize()) {
                throw new CliException("generate: prompt token id " + id + " is outside the model's vocabulary [0, "
                        + model.config().vocabSize() + ")");
            }
        }
        long seed = o.has("--seed") ? parseLong(o, "--seed") : System.nanoTime();
        SamplingParams sampling = sampling(o, model, seed);
        int maxNew = o.has("--max-new-tokens") ? parseInt(o, "--max-new-tokens") : 256;
        if (maxNew < 1) throw new CliException("generate: --max-new-tokens must be >= 1, got " + maxNew);
        int capacity = (int) Math.min(model.config().contextLength(), (long) prompt.length + maxNew);
        int threads = o.has("--threads") ? parseInt(o, "--threads") : Runtime.getRuntime().availableProcessors();
        boolean json = o.has("--json");

        GenerationResult result;
        try (Checkpoint ckpt = model.openCheckpoint();
                CpuEngine engine = CpuEngine.load(model.config(), ckpt, new KvCacheCapacity(1, Math.max(capacity, 1)),
                        qwenchat.engine.cpu.CpuEngineOptions.defaults().withThreads(Math.max(1, threads)))) {
            Generator generator = new Generator(engine, () -> TextDecoder.of(tokenizer), model.generation().eosTokenIds());
            GenerationRequest request = new GenerationRequest("cli", prompt, maxNew, sampling, stops, TOP_LOGPROBS);
            try {
                result = generator.generate(request, text -> {
                    if (!json) {
                        byte[] b = text.getBytes(StandardCharsets.UTF_8);
                        out.write(b, 0, b.length);
                        out.flush();
                    }
                });
            } catch (IllegalArgumentException e) {
                throw new CliException("generate: " + e.getMessage());
            }
        }
        if (json) {
            TokenizerArgs.printJson(out, toJson(model, seed, result));
        } else {
            out.println();
        }
        return 0;
    }

    private static Map<String, Object> toJson(ModelDirectory model, long seed, GenerationResult r) {
        Map<String, Object> usage = new LinkedHashMap<>();
        usage.put("prompt_tokens", r.usage().promptTokens());
        usage.put("completion_tokens", r.usage().completionTokens());
        usage.put("total_tokens", r.usage().totalTokens());
        usage.put("time_to_first_token_ms", r.usage().timeToFirstTokenMillis());
        usage.put("total_ms", r.usage().totalMillis());
        usage.put("decode_tokens_per_second", r.usage().decodeTokensPerSecond());
        List<Map<String, Object>> steps = new ArrayList<>();
        for (SampledToken t : r.steps()) {
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("id", t.token());
            s.put("logprob", t.logprob());
            s.put("top_ids", t.topIds());
            s.put("top_logprobs", t.topLogprobs());
            steps.add(s);
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", model.displayName());
        m.put("seed", seed);
        m.put("ids", r.ids());
        m.put("text", r.text());
        m.put("finish_reason", r.finishReason().wireName());
        m.put("usage", usage);
        m.put("steps", steps);
        return m;
    }

    private static int[] promptIds(TokenizerArgs o, InputStream stdin, QwenTokenizer tokenizer) {
        if (o.has("--prompt-ids")) {
            String[] parts = o.required("--prompt-ids").split(",");
            int[] ids = new int[parts.length];
            for (int i = 0; i < parts.length; i++) {
                try {
                    ids[i] = Integer.parseInt(parts[i].trim());
                } catch (NumberFormatException e) {
                    throw new CliException("generate: --prompt-ids: '" + parts[i] + "' is not a token id");
                }
            }
            return ids;
        }
        ChatTemplate template = new ChatTemplate(tokenizer);
        try {
            if (o.has("--prompt")) {
                return template.render(List.of(new qwenchat.tokenizer.ChatMessage("user", o.required("--prompt"))), true)
                        .ids();
            }
            String source = o.required("--chat");
            return template.render(ChatTemplateCommand.parseMessages(o.fileOrStdin("--chat", stdin),
                    source.equals("-") ? "stdin" : source), true).ids();
        } catch (IllegalArgumentException e) {
            throw new CliException("generate: " + e.getMessage());
        }
    }

    private static SamplingParams sampling(TokenizerArgs o, ModelDirectory model, long seed) {
        if (o.has("--greedy")) return SamplingParams.greedyDecoding();
        SamplingParams d = SamplingParams.defaults(model.generation(), seed);
        try {
            double temperature = o.has("--temperature") ? parseDouble(o, "--temperature") : d.temperature();
            double topP = o.has("--top-p") ? parseDouble(o, "--top-p") : d.topP();
            int topK = o.has("--top-k") ? parseInt(o, "--top-k") : d.topK();
            return new SamplingParams(temperature, topK, topP, d.minP(), d.repetitionPenalty(), d.presencePenalty(),
                    d.frequencyPenalty(), seed);
        } catch (IllegalArgumentException e) {
            throw new CliException("generate: " + e.getMessage());
        }
    }

    private static int parseInt(TokenizerArgs o, String option) {
        try {
            return Integer.parseInt(o.required(option));
        } catch (NumberFormatException e) {
            throw new CliException("generate: " + option + " needs an integer, got '" + o.required(option) + "'");
        }
    }

    private static long parseLong(TokenizerArgs o, String option) {
        try {
            return Long.parseLong(o.required(option));
        } catch (NumberFormatException e) {
            throw new CliException("generate: " + option + " needs an integer, got '" + o.required(option) + "'");
        }
    }

    private static double parseDouble(TokenizerArgs o, String option) {
        try {
            return Double.parseDouble(o.required(option));
        } catch (NumberFormatException e) {
            throw new CliException("generate: " + option + " needs a number, got '" + o.required(option) + "'");
        }
    }
}
