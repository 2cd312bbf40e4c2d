package qwenchat.api;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import qwenchat.generation.GenerationUsage;

class RequestUsageTest {

    @Test
    void choicesShareThePromptAddTheirCompletionsAndCountOnlyTheCacheEveryChoiceHad() {
        RequestUsage u = RequestUsage.NONE
                .plus(new GenerationUsage(40, 5, 0, 0, 0, 0, 0))
                .plus(new GenerationUsage(40, 7, 0, 0, 0, 0, 32))
                .plus(new GenerationUsage(40, 3, 0, 0, 0, 0, 32));
        assertThat(u).isEqualTo(new RequestUsage(40, 15, 0));
        assertThat(u.totalTokens()).isEqualTo(55);
        assertThat(RequestUsage.NONE.plus(new GenerationUsage(40, 2, 0, 0, 0, 0, 16)).cachedTokens()).isEqualTo(16);
    }
}
