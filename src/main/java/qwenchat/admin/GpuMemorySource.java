package qwenchat.admin;

import java.util.List;
import qwenchat.engine.GpuMemory;
import qwenchat.serving.ModelRuntime;

/** Each GPU's memory for the dashboard and the metrics; empty while no model is loaded or on the CPU engine. */
@FunctionalInterface
interface GpuMemorySource {

    List<GpuMemory> gpus();

    /** What the loaded engine reported, read once its allocations were made: no engine call. */
    static GpuMemorySource of(ModelRuntime runtime) {
        return () -> runtime.served().map(m -> m.engine().gpus()).orElse(List.of());
    }
}
