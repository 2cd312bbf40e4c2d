package qwenchat.serving;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Configuration;

/** The qwen.* settings bind with their defaults and fail startup naming a bad property. */
class QwenPropertiesTest {

    @Configuration(proxyBeanMethods = false)
    @EnableConfigurationProperties(QwenProperties.class)
    static class Props {
    }

    private final ApplicationContextRunner runner = new ApplicationContextRunner().withUserConfiguration(Props.class);

    @Test
    void defaults() {
        runner.run(ctx -> {
            QwenProperties p = ctx.getBean(QwenProperties.class);
            assertThat(p.modelDir()).isNull();
            assertThat(p.engine()).isEqualTo("auto");
            assertThat(p.kvMaxSequences()).isEqualTo(256);
            assertThat(p.gpuMemoryUtilization()).isEqualTo(0.90);
            assertThat(p.kvCacheBytes()).isNull();
            assertThat(p.kvBlockSize()).isEqualTo(64);
            assertThat(p.ropeScaling()).isEqualTo("none");
            assertThat(p.queueLimit()).isEqualTo(64);
            assertThat(p.requestTimeout()).isEqualTo(Duration.ofMinutes(10));
            assertThat(p.apiKeys()).isEmpty();
            assertThat(p.scheduler().maxBatchedTokens()).isEqualTo(1792);
            assertThat(p.scheduler().attentionBreakEven()).as("the engine's figure").isNull();
            assertThat(p.prefixCaching()).isTrue();
            assertThat(p.gpus()).as("every visible GPU").isEqualTo("all");
            assertThat(p.gpuSelection().resolve(2)).containsExactly(0, 1);
            assertThat(p.batchInvariant()).as("opt-in: it costs more than 5% at batch 1 and 256").isFalse();
            // Qwen2.5's 32K context is capped per slot on CPU; a smaller model context wins.
            assertThat(p.tokensPerSequence(32768, false)).isEqualTo(QwenProperties.DEFAULT_CPU_TOKEN_CAP);
            assertThat(p.tokensPerSequence(2048, false)).isEqualTo(2048);
            assertThat(p.tokensPerSequence(32768, true)).as("a GPU slot holds the whole context").isEqualTo(32768);
        });
    }

    @Test
    void pagedKvAndRopeSettingsBind() {
        runner.withPropertyValues("qwen.gpu-memory-utilization=0.5", "qwen.kv-cache-bytes=8GB", "qwen.kv-block-size=16",
                "qwen.kv-max-sequences=512", "qwen.rope-scaling=yarn:4").run(ctx -> {
                    QwenProperties p = ctx.getBean(QwenProperties.class);
                    assertThat(p.gpuMemoryUtilization()).isEqualTo(0.5);
                    assertThat(p.kvBlockSize()).isEqualTo(16);
                    assertThat(p.kvCacheBytes().toBytes()).isEqualTo(8L << 30);
                    assertThat(p.kvMaxSequences()).isEqualTo(512);
                    assertThat(p.ropeScaling()).isEqualTo("yarn:4");
                });
    }

    @Test
    void explicitValuesBind() {
        runner.withPropertyValues("qwen.model-dir=/models/qwen", "qwen.engine=cpu", "qwen.max-tokens-per-sequence=8192",
                "qwen.api-keys=a,b", "qwen.request-timeout=30s").run(ctx -> {
                    QwenProperties p = ctx.getBean(QwenProperties.class);
                    assertThat(p.modelDir()).isEqualTo("/models/qwen");
                    assertThat(p.tokensPerSequence(32768, false)).isEqualTo(8192);
                    assertThat(p.tokensPerSequence(32768, true)).isEqualTo(8192);
                    assertThat(p.apiKeys()).containsExactly("a", "b");
                    assertThat(p.requestTimeout()).isEqualTo(Duration.ofSeconds(30));
                });
    }

    @Test
    void gpusBindAsDeviceOrdinalsInStageOrder() {
        runner.withPropertyValues("qwen.gpus=1, 0").run(ctx -> {
            QwenProperties p = ctx.getBean(QwenProperties.class);
            assertThat(p.gpus()).isEqualTo("1,0");
            assertThat(p.gpuSelection().resolve(2)).containsExactly(1, 0);
        });
    }

    @Test
    void aGpuListWithADuplicateOrANegativeOrdinalFailsStartupNamingTheValue() {
        runner.withPropertyValues("qwen.gpus=0,1,1").run(ctx -> {
            assertThat(ctx).hasFailed();
            assertThat(ctx.getStartupFailure()).rootCause().hasMessageContaining("qwen.gpus='0,1,1'")
                    .hasMessageContaining("GPU 1 is listed twice");
        });
        runner.withPropertyValues("qwen.gpus=-1").run(ctx -> {
            assertThat(ctx).hasFailed();
            assertThat(ctx.getStartupFailure()).rootCause().hasMessageContaining("qwen.gpus='-1'");
        });
    }

    @Test
    void badValuesFailStartupNamingTheProperty() {
        runner.withPropertyValues("qwen.engine=gpu").run(ctx -> {
            assertThat(ctx).hasFailed();
            assertThat(ctx.getStartupFailure()).rootCause().hasMessageContaining("engine");
        });
        runner.withPropertyValues("qwen.gpu-memory-utilization=1.5").run(ctx -> {
            assertThat(ctx).hasFailed();
            assertThat(ctx.getStartupFailure()).rootCause().hasMessageContaining("gpuMemoryUtilization");
        });
        runner.withPropertyValues("qwen.kv-block-size=0").run(ctx -> {
            assertThat(ctx).hasFailed();
            assertThat(ctx.getStartupFailure()).rootCause().hasMessageContaining("kvBlockSize");
        });
        runner.withPropertyValues("qwen.rope-scaling=yarn").run(ctx -> {
            assertThat(ctx).hasFailed();
            assertThat(ctx.getStartupFailure()).rootCause().hasMessageContaining("ropeScaling")
                    .hasMessageContaining("yarn:FACTOR");
        });
        runner.withPropertyValues("qwen.kv-max-sequences=0").run(ctx -> {
            assertThat(ctx).hasFailed();
            assertThat(ctx.getStartupFailure()).rootCause().hasMessageContaining("kvMaxSequences");
        });
    }

    @Test
    void batchInvarianceCanBeTurnedOffAndANonBooleanFailsStartupNamingIt() {
        runner.withPropertyValues("qwen.batch-invariant=false").run(ctx ->
                assertThat(ctx.getBean(QwenProperties.class).batchInvariant()).isFalse());
        runner.withPropertyValues("qwen.batch-invariant=sometimes").run(ctx -> {
            assertThat(ctx).hasFailed();
            assertThat(ctx.getStartupFailure()).cause().hasMessageContaining("qwen.batch-invariant");
        });
    }

    @Test
    void schedulerBudgetAndPrefixCachingBindAndABudgetNotAboveTheSequenceLimitIsRefusedByName() {
        runner.withPropertyValues("qwen.scheduler.max-batched-tokens=512", "qwen.prefix-caching=false").run(ctx -> {
            QwenProperties p = ctx.getBean(QwenProperties.class);
            assertThat(p.scheduler().maxBatchedTokens()).isEqualTo(512);
            assertThat(p.prefixCaching()).isFalse();
        });
        runner.withPropertyValues("qwen.scheduler.max-batched-tokens=0").run(ctx -> {
            assertThat(ctx).hasFailed();
            assertThat(ctx.getStartupFailure()).rootCause().hasMessageContaining("qwen.scheduler.max-batched-tokens (0)");
        });
        runner.withPropertyValues("qwen.scheduler.max-batched-tokens=256").run(ctx -> {
            assertThat(ctx).hasFailed();
            assertThat(ctx.getStartupFailure()).rootCause()
                    .hasMessageContaining("qwen.scheduler.max-batched-tokens (256)")
                    .hasMessageContaining("qwen.kv-max-sequences (256)");
        });
    }

    @Test
    void theAttentionBreakEvenBindsKeepsThroughWithSchedulingAndANegativeOneFailsStartupNamingIt() {
        runner.withPropertyValues("qwen.scheduler.attention-break-even=8192").run(ctx -> {
            QwenProperties p = ctx.getBean(QwenProperties.class);
            assertThat(p.scheduler().attentionBreakEven()).isEqualTo(8192);
            assertThat(p.withScheduling(512, false).scheduler())
                    .isEqualTo(new QwenProperties.Scheduler(512, 8192));
        });
        runner.withPropertyValues("qwen.scheduler.attention-break-even=0").run(ctx ->
                assertThat(ctx.getBean(QwenProperties.class).scheduler().attentionBreakEven()).isZero());
        runner.withPropertyValues("qwen.scheduler.attention-break-even=-1").run(ctx -> {
            assertThat(ctx).hasFailed();
            assertThat(ctx.getStartupFailure()).rootCause().hasMessageContaining("attentionBreakEven");
        });
    }
}
