// kernel_trace.cpp: a CUPTI injection library that records every kernel's start and end on the GPU,
// graph-launched kernels included, and writes them as CSV when the process exits.
//   CUDA_INJECTION64_PATH=libkernel_trace.so KERNEL_TRACE_OUT=trace.csv java ...
// libcuda loads it at cuInit and calls InitializeInjection; nothing in the traced program changes.
// Columns: start_ns,end_ns,graph_id,graph_node_id,stream,grid,block,regs,name (start and end from
// the GPU's timer; graph_id 0 for kernels launched outside a graph). Built by run-gpu-checks.sh's
// prepare, against the CUPTI that comes with nvcc; summarize.py reads the CSV.
#include <cupti.h>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace {
std::mutex lock;
FILE* out = nullptr;
constexpr size_t BUFFER = 8 << 20;

void CUPTIAPI requested(uint8_t** buffer, size_t* size, size_t* maxRecords) {
    *buffer = static_cast<uint8_t*>(aligned_alloc(8, BUFFER));
    *size = BUFFER;
    *maxRecords = 0;
}

void CUPTIAPI completed(CUcontext, uint32_t, uint8_t* buffer, size_t, size_t valid) {
    std::lock_guard<std::mutex> g(lock);
    CUpti_Activity* record = nullptr;
    while (out && cuptiActivityGetNextRecord(buffer, valid, &record) == CUPTI_SUCCESS) {
        if (record->kind != CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) continue;
        auto* k = reinterpret_cast<CUpti_ActivityKernel10*>(record);
        fprintf(out, "%llu,%llu,%u,%llu,%u,%d,%d,%u,%s\n", (unsigned long long)k->start, (unsigned long long)k->end,
                k->graphId, (unsigned long long)k->graphNodeId, k->streamId, k->gridX * k->gridY * k->gridZ,
                k->blockX * k->blockY * k->blockZ, (unsigned)k->registersPerThread, k->name ? k->name : "?");
    }
    free(buffer);
}

void finish() {
    cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
    std::lock_guard<std::mutex> g(lock);
    if (out) fclose(out), out = nullptr;
}
}  // namespace

extern "C" int InitializeInjection(void) {
    const char* path = getenv("KERNEL_TRACE_OUT");
    out = fopen(path ? path : "kernel_trace.csv", "w");
    if (!out) return 0;
    fprintf(out, "start_ns,end_ns,graph_id,graph_node_id,stream,grid,block,regs,name\n");
    if (cuptiActivityRegisterCallbacks(requested, completed) != CUPTI_SUCCESS ||
        cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) != CUPTI_SUCCESS) {
        fprintf(stderr, "kernel_trace: CUPTI refused the kernel activity\n");
        return 0;
    }
    atexit(finish);
    return 1;
}
