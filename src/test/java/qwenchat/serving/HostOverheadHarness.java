package qwenchat.serving;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import qwenchat.engine.EngineInfo;
import qwenchat.engine.InferenceEngine;
import qwenchat.engine.KvCacheCapacity;
import qwenchat.engine.StepRequest;
import qwenchat.engine.sampling.SampledToken;
import qwenchat.engine.sampling.SamplingParams;
import qwenchat.generation.FinishReason;
import qwenchat.generation.GenerationRequest;
import qwenchat.generation.GenerationUsage;
import qwenchat.model.ModelConfig;

/**
 * How much host time the serving loop spends per step and per token when the engine costs nothing:
 * the real {@link BatchScheduler}, {@link StepPlanner} and {@link OutputProcessor} (with the demo
 * model's real tokenizer, so text decoding and stop-string checks run as in production) over an engine
 * whose {@code step} only keeps the KV books and returns a token at once. Each of N clients keeps
 * one stream open all the time (a new request as soon as the last finished, from its own thread,
 * through a queue as the HTTP layer does), so the decode batch stays at N.
 *
 * <p>Prints, per concurrency: loop wall microseconds per step and per token, the loop thread's CPU
 * time and heap allocation per step, and the share spent inside the fake engine. It asserts
 * nothing and times nothing in a test: run it by hand ({@code java -cp ... HostOverheadHarness
 * [seconds] [streams...]}). Whatever it reports is what the serving path adds to every real step.
 */
public final class HostOverheadHarness {

    private HostOverheadHarness() {
    }

    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 4;
        List<Integer> streams = new ArrayList<>();
        for (int i = 1; i < args.length; i++) streams.add(Integer.parseInt(args[i]));
        if (streams.isEmpty()) streams = List.of(16, 64, 256);
        System.out.printf("%8s %10s %10s %10s %12s %12s %10s %10s%n", "streams", "steps", "tokens", "batch",
                "wall us/st", "cpu us/st", "us/token", "KB/step");
        for (int n : streams) {
            run(n, 1, false); // JIT warm-up, not printed
            run(n, seconds, true);
        }
    }

    private static void run(int streams, int seconds, boolean print) throws Exception {
        QwenProperties p = new QwenProperties(null, DemoServing.DEMO_DIR, "cpu", streams, null, 4 * streams,
                Duration.ofMinutes(5), 2, List.of(), 1 << 20);
        ZeroCostEngine[] fake = new ZeroCostEngine[1];
        try (DemoServing demo = new DemoServing(p, real -> fake[0] = new ZeroCostEngine(real, streams))) {
            int[] prompt = demo.prompt("Tell me a long story about a lighthouse keeper and the sea.");
            fake[0].text = demo.served().tokenizer().encode(
                    "The keeper climbed the stairs every night, counting the steps, and the lamp turned over the water "
                            + "while ships passed far out in the dark; nobody thanked him, and he did not mind.");
            AtomicBoolean stop = new AtomicBoolean();
            List<Thread> clients = new ArrayList<>();
            for (int c = 0; c < streams; c++) {
                int client = c;
                clients.add(Thread.ofVirtual().start(() -> client(demo.scheduler, prompt, client, stop)));
            }
            Thread loop = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().equals("generation-scheduler")).findFirst().orElseThrow();
            var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
            Thread.sleep(300); // every stream admitted and decoding
            long steps0 = demo.scheduler.stats().steps();
            long tokens0 = demo.scheduler.stats().tokensGenerated();
            long engine0 = fake[0].stepNanos.get();
            long cpu0 = threads.getThreadCpuTime(loop.threadId());
            long alloc0 = threads.getThreadAllocatedBytes(loop.threadId());
            long t0 = System.nanoTime();
            Thread.sleep(seconds * 1000L);
            long wall = System.nanoTime() - t0;
            long steps = demo.scheduler.stats().steps() - steps0;
            long tokens = demo.scheduler.stats().tokensGenerated() - tokens0;
            long engine = fake[0].stepNanos.get() - engine0;
            long cpu = threads.getThreadCpuTime(loop.threadId()) - cpu0;
            long alloc = threads.getThreadAllocatedBytes(loop.threadId()) - alloc0;
            stop.set(true);
            for (Thread t : clients) t.join(10_000);
            if (print) {
                System.out.printf("%8d %10d %10d %10.1f %12.1f %12.1f %10.2f %10.1f   (engine bookkeeping %.0f%% of wall)%n",
                        streams, steps, tokens, (double) tokens / steps, wall / 1e3 / steps, cpu / 1e3 / steps,
                        wall / 1e3 / tokens, alloc / 1024.0 / steps, 100.0 * engine / wall);
            }
        }
    }

    /** One client: a streamed request after another, its events read on its own thread. */
    private static void client(BatchScheduler scheduler, int[] prompt, int client, AtomicBoolean stop) {
        SamplingParams sampling = new SamplingParams(0.7, 0, 0.95, 0, 1, 0, 0, client);
        for (int n = 0; !stop.get(); n++) {
            LinkedBlockingQueue<Object> events = new LinkedBlockingQueue<>();
            GenerationListener l = new GenerationListener() {
                @Override
                public void onStart(int promptTokens) {
                }

                @Override
                public void onToken(GeneratedToken token) {
                    events.add(token);
                }

                @Override
                public void onComplete(FinishReason reason, String tailText, GenerationUsage usage) {
                    events.add(reason);
                }

                @Override
                public void onError(GenerationException error) {
                    events.add(error);
                }
            };
            try {
                scheduler.submit(new GenerationRequest("h" + client + "-" + n, prompt, 256, sampling,
                        List.of("\n\nUser:"), 0), l);
                StringBuilder text = new StringBuilder();
                while (!stop.get()) {
                    Object e = events.poll(1, TimeUnit.SECONDS);
                    if (e instanceof GeneratedToken t) text.append(t.text());
                    else if (e != null) break;
                }
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /**
     * The KV books of a real engine (blocks, prefix cache) and no model: {@code step} returns the next
     * id of a fixed text for every row that samples, so the tokenizer decodes real words. Records no
     * steps, so the loop is timed without the recording's allocation.
     */
    private static final class ZeroCostEngine extends BookkeepingEngine {
        private final InferenceEngine real;
        final AtomicLong stepNanos = new AtomicLong();
        volatile int[] text = {100};
        private int next;

        ZeroCostEngine(InferenceEngine real, int streams) {
            super(new KvCacheCapacity(streams, 4096, 16, streams * 4096 / 16), false);
            this.real = real;
        }

        @Override
        int pick(StepRequest r) {
            int[] t = text;
            return t[next++ % t.length];
        }

        @Override
        public List<SampledToken> step(List<StepRequest> requests) {
            long t0 = System.nanoTime();
            List<SampledToken> out = super.step(requests);
            stepNanos.addAndGet(System.nanoTime() - t0);
            return out;
        }

        @Override
        public ModelConfig config() {
            return real.config();
        }

        @Override
        public EngineInfo info() {
            return real.info();
        }

        @Override
        public float[][] prefillLogits(int sequence, int[] tokens, boolean allPositions) {
            // The loader's self-check: the demo model answers it on a sequence of its own.
            int own = real.openSequence();
            try {
                return real.prefillLogits(own, tokens, allPositions);
            } finally {
                real.freeSequence(own);
            }
        }

        @Override
        public void close() {
            real.close();
        }
    }
}
