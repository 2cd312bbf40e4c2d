package qwenchat.clienttext;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

class InputTextTest {

    @Test
    void wellFormedTextPassesIncludingSurrogatePairsAndNull() {
        assertThat(InputText.wellFormed("f", "plain 你好 \ud83d\ude00")).isEqualTo("plain 你好 \ud83d\ude00");
        assertThat(InputText.wellFormed("f", null)).isNull();
    }

    @Test
    void aLoneHighOrLowSurrogateIsRefusedWithTheFieldAndTheIndex() {
        assertThatThrownBy(() -> InputText.wellFormed("messages[0].content", "ab\ud800"))
                .isInstanceOfSatisfying(InvalidTextException.class, e -> {
                    assertThat(e.field()).isEqualTo("messages[0].content");
                    assertThat(e.getMessage()).isEqualTo(
                            "messages[0].content contains a lone surrogate (\\ud800) at index 2; text must be valid Unicode");
                });
        assertThatThrownBy(() -> InputText.wellFormed("x", "\udc00ab")).hasMessageContaining("(\\udc00) at index 0");
        assertThatThrownBy(() -> InputText.wellFormed("x", "\ude00\ud83d")).hasMessageContaining("at index 0");
    }

    @Test
    void identifiersAreShortAndFreeOfControlAndLineSeparatorCharacters() {
        assertThat(InputText.identifier("id", "a".repeat(InputText.MAX_ID_LENGTH))).hasSize(128);
        assertThatThrownBy(() -> InputText.identifier("id", "a".repeat(129)))
                .hasMessage("id is 129 characters; the limit is 128");
        for (String bad : new String[] {"a\nb", "a\rb", "a\u0000", "\u001b[31m", "a\u2028b", "a\u0085"}) {
            assertThatThrownBy(() -> InputText.identifier("user", bad)).as(bad)
                    .isInstanceOf(InvalidTextException.class).hasMessageStartingWith("user contains the control character U+");
        }
        assertThat(InputText.identifier("id", "ws-1 with spaces and = signs")).isEqualTo("ws-1 with spaces and = signs");
    }

    @Test
    void aJsonTreeIsCheckedEverywhereIncludingFieldNamesWithJsonPaths() {
        JsonMapper json = JsonMapper.builder().build();
        assertThatThrownBy(() -> InputText.wellFormedTree(json.readTree("{\"a\":[{\"b\":\"x\"},{\"c\":[\"ok\",\"\\ud800\"]}]}")))
                .isInstanceOfSatisfying(InvalidTextException.class, e -> assertThat(e.field()).isEqualTo("a[1].c[1]"));
        assertThatThrownBy(() -> InputText.wellFormedTree(json.readTree("{\"\\udfff\":1}")))
                .hasMessageStartingWith("a field name contains a lone surrogate");
        InputText.wellFormedTree(json.readTree("{\"a\":[1,true,null,\"\\ud83d\\ude00\"]}"));
    }
}
