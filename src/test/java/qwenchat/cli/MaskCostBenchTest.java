package qwenchat.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import org.junit.jupiter.api.Test;
import qwenchat.tokenizer.QwenTokenizer;
import tools.jackson.databind.json.JsonMapper;

class MaskCostBenchTest {

    @Test
    void theBenchmarksSampleAnswerIsValidForItsSchemaAndEveryTokenOfItIsInItsStepsMask() {
        Schema schema = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12).getSchema(MaskCostBench.SCHEMA);
        assertThat(schema.validate(JsonMapper.builder().build().readTree(MaskCostBench.ANSWER))).isEmpty();

        MaskCostBench.HostRun run = MaskCostBench.host(QwenTokenizer.bundled());

        assertThat(run.masks()).hasSize(run.tokens().length);
        for (int i = 0; i < run.tokens().length; i++) assertThat(run.masks().get(i).get(run.tokens()[i])).isTrue();
        // Masks really restrict: inside the answer no step allows the whole vocabulary.
        assertThat(run.masks()).allSatisfy(m -> assertThat(m.cardinality()).isLessThan(151_000));
    }
}
