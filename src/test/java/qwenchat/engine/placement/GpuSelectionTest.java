package qwenchat.engine.placement;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class GpuSelectionTest {

    @Test
    void listedOrdinalsAreKeptInStageOrder() {
        assertThat(GpuSelection.parse("0,1").resolve(2)).containsExactly(0, 1);
        assertThat(GpuSelection.parse(" 3 , 1 ").resolve(4)).containsExactly(3, 1);
    }

    @Test
    void blankOrAllMeansEveryVisibleGpu() {
        assertThat(GpuSelection.parse(null).resolve(2)).containsExactly(0, 1);
        assertThat(GpuSelection.parse(" ").resolve(1)).containsExactly(0);
        assertThat(GpuSelection.parse("ALL").resolve(4)).containsExactly(0, 1, 2, 3);
        assertThat(GpuSelection.ALL.text()).isEqualTo("all");
    }

    @Test
    void aGpuListedTwiceIsRejectedNamingTheValue() {
        assertThatThrownBy(() -> GpuSelection.parse("0,1,0"))
                .hasMessageContaining("qwen.gpus='0,1,0'").hasMessageContaining("GPU 0 is listed twice");
    }

    @Test
    void aNegativeOrdinalIsRejected() {
        assertThatThrownBy(() -> GpuSelection.parse("-1"))
                .hasMessageContaining("qwen.gpus='-1'").hasMessageContaining("device ordinal -1 is negative");
    }

    @Test
    void somethingThatIsNotANumberIsRejected() {
        assertThatThrownBy(() -> GpuSelection.parse("0;1")).hasMessageContaining("'0;1' is not a device ordinal");
        assertThatThrownBy(() -> GpuSelection.parse("0,,1")).hasMessageContaining("'' is not a device ordinal");
    }

    @Test
    void aGpuBeyondTheVisibleCountIsRejectedNamingTheCount() {
        GpuSelection s = GpuSelection.parse("0,2");
        assertThatThrownBy(() -> s.resolve(2)).hasMessageContaining("qwen.gpus='0,2'")
                .hasMessageContaining("GPU 2 is not visible").hasMessageContaining("sees 2 GPUs (ordinals 0-1)");
        assertThatThrownBy(() -> GpuSelection.parse("1").resolve(1)).hasMessageContaining("sees 1 GPU (ordinal 0)");
    }

    @Test
    void noVisibleGpuIsAnError() {
        assertThatThrownBy(() -> GpuSelection.ALL.resolve(0)).hasMessageContaining("no GPU is visible");
    }

    @Test
    void textWritesTheSettingBack() {
        assertThat(new GpuSelection(List.of(1, 0)).text()).isEqualTo("1,0");
    }
}
