package qwenchat.clienttext;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PublicTextTest {

    @Test
    void serverPathsShrinkToTheFileNameAndTheReasonStays() {
        assertThat(PublicText.of("target/no-such-model-dir: not a directory (expected a model directory with config.json)"))
                .isEqualTo("no-such-model-dir: not a directory (expected a model directory with config.json)");
        assertThat(PublicText.of("cannot read /srv/models/Qwen2.5-7B/model-00002.safetensors: truncated"))
                .isEqualTo("cannot read model-00002.safetensors: truncated");
        assertThat(PublicText.of("'C:\\data\\qwen\\config.json' is missing")).isEqualTo("'config.json' is missing");
    }

    @Test
    void javaClassNamesAreDroppedButUrlsAndPlainTextAreKept() {
        assertThat(PublicText.of("java.nio.file.NoSuchFileException: /data/x/tokenizer.json"))
                .isEqualTo("tokenizer.json");
        assertThat(PublicText.of("cannot construct qwenchat.presets.LocalizedText")).isEqualTo("cannot construct LocalizedText");
        assertThat(PublicText.of("download from https://huggingface.co/Qwen/Qwen2.5-7B failed: 404"))
                .isEqualTo("download from https://huggingface.co/Qwen/Qwen2.5-7B failed: 404");
        assertThat(PublicText.of("model is loading (62%), 1.5 GB of 3.1 GB")).isEqualTo("model is loading (62%), 1.5 GB of 3.1 GB");
        assertThat(PublicText.of(null)).isNull();
    }
}
