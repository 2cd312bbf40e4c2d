// tensormap_probe.cu: can the engine make TMA tensor maps without cuTensorMapEncodeTiled?
//
// Why: the prefill GEMMs' remaining gap to cuBLAS (docs/performance.md, runs d1 to d3) is in how their
// stages are loaded: 128 producer threads issue 3072 cp.async copies a stage, where a TMA copy is one
// instruction a tile and can multicast a tile to the blocks of a cluster. TMA needs a tensor map, which
// the host makes with the driver's cuTensorMapEncodeTiled; JCuda 12.0.0 has no binding for it. PTX's
// tensormap.replace (sm_90a) writes every field of a tiled map from device code. If a zeroed 128-byte
// object with every field written that way equals the driver's encoding, or at least loads the same
// tiles, the engine can build its maps in a kernel at load time.
//
// What it does, for a bf16 matrix of ROWS x COLS (row-major, ROWS not a multiple of the box) and a box
// of 64 columns x 128 rows with the 128-byte swizzle (the GEMMs' stage layout):
//   1. encodes the map with the driver (cuTensorMapEncodeTiled, through cudaGetDriverEntryPointByVersion
//      so that nothing links libcuda);
//   2. builds maps on the device from zeros with tensormap.replace, in variants of the two encodings the
//      PTX text leaves open to reading (the rank as r or r - 1; the element strides written or left zero);
//   3. prints the bytes of each and where they differ from the driver's;
//   4. loads boxes with cp.async.bulk.tensor through each map (one inside the matrix, one whose rows run
//      past its end) and checks every byte of shared memory against the layout the GEMMs' cp.async
//      loaders write (prefill_mma::swizzle<128>, in a kernel), rows past the end zero.
// Build and run on the GPU machine from the repository root (profile-prefill.sh does this):
//   nvcc -O2 -std=c++17 -gencode arch=compute_90a,code=sm_90a -Isrc/main/cuda \
//     -o /tmp/tensormap_probe tools/gpu/kernel-harness/tensormap_probe.cu
//   /tmp/tensormap_probe          every map's bytes against the driver's, then the driver's map's loads
//   /tmp/tensormap_probe V        device-built variant V's loads alone (0..3), one process each since a
//                                 bad map can fault or hang and lose the context
// Exit status 0 when the map tested loads the loaders' layout.
#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <cudaTypedefs.h>

#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <vector>

#include "prefill_mma.cuh"

#include "cuda_check.cuh"

namespace {

constexpr int ROWS = 300;
constexpr int COLS = 512;
constexpr int BOX_COLS = 64;   // 128 bytes: one swizzle row
constexpr int BOX_ROWS = 128;
constexpr int BOX_BYTES = BOX_COLS * BOX_ROWS * 2;

// PTX's enumerations for tensormap.replace's .elemtype and .swizzle_mode (immediates in the instruction).
constexpr int PTX_ELEMTYPE_BF16 = 10;
constexpr int PTX_SWIZZLE_128B = 3;

struct Variant {
    const char* name;
    int rankValue;         // what .rank is given for a 2-D map
    bool elementStrides;   // whether .element_stride is written (1 in each dimension)
};

// One thread writes every field of a map in global memory that starts as 128 zero bytes.
__global__ void build_map(void* map, const void* base, int rankValue, int elementStrides) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    const uint64_t addr = reinterpret_cast<uint64_t>(base);
    asm volatile("tensormap.replace.tile.global_address.global.b1024.b64 [%0], %1;" ::"l"(map), "l"(addr) : "memory");
    asm volatile("tensormap.replace.tile.rank.global.b1024.b32 [%0], %1;" ::"l"(map), "r"(rankValue) : "memory");
    asm volatile("tensormap.replace.tile.box_dim.global.b1024.b32 [%0], 0, %1;" ::"l"(map), "r"(BOX_COLS) : "memory");
    asm volatile("tensormap.replace.tile.box_dim.global.b1024.b32 [%0], 1, %1;" ::"l"(map), "r"(BOX_ROWS) : "memory");
    asm volatile("tensormap.replace.tile.global_dim.global.b1024.b32 [%0], 0, %1;" ::"l"(map), "r"(COLS) : "memory");
    asm volatile("tensormap.replace.tile.global_dim.global.b1024.b32 [%0], 1, %1;" ::"l"(map), "r"(ROWS) : "memory");
    const uint64_t rowBytes = (uint64_t)COLS * 2;
    asm volatile("tensormap.replace.tile.global_stride.global.b1024.b64 [%0], 0, %1;" ::"l"(map), "l"(rowBytes) : "memory");
    if (elementStrides) {
        asm volatile("tensormap.replace.tile.element_stride.global.b1024.b32 [%0], 0, %1;" ::"l"(map), "r"(1) : "memory");
        asm volatile("tensormap.replace.tile.element_stride.global.b1024.b32 [%0], 1, %1;" ::"l"(map), "r"(1) : "memory");
    }
    asm volatile("tensormap.replace.tile.elemtype.global.b1024.b32 [%0], %1;" ::"l"(map), "n"(PTX_ELEMTYPE_BF16) : "memory");
    asm volatile("tensormap.replace.tile.swizzle_mode.global.b1024.b32 [%0], %1;" ::"l"(map), "n"(PTX_SWIZZLE_128B) : "memory");
    asm volatile("tensormap.replace.tile.interleave_layout.global.b1024.b32 [%0], %1;" ::"l"(map), "n"(0) : "memory");
    asm volatile("tensormap.replace.tile.fill_mode.global.b1024.b32 [%0], %1;" ::"l"(map), "n"(0) : "memory");
    asm volatile("fence.proxy.tensormap::generic.release.gpu;" ::: "memory");
#else
    __trap();
#endif
}

// One box at (col0, row0) through the map at mapAddr (global memory), copied out of shared memory as is.
__global__ void load_box(const void* mapAddr, int col0, int row0, uint8_t* out) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    extern __shared__ __align__(1024) uint8_t smem[];
    __shared__ __align__(8) uint64_t bar;
    uint8_t* tile = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(smem) + 1023) & ~uintptr_t(1023));
    const uint32_t sTile = static_cast<uint32_t>(__cvta_generic_to_shared(tile));
    const uint32_t sBar = static_cast<uint32_t>(__cvta_generic_to_shared(&bar));
    for (int i = threadIdx.x; i < BOX_BYTES; i += blockDim.x) tile[i] = 0xAB;  // poison: unwritten bytes show
    // The poison is written through the generic proxy, the box through the async one.
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
    if (threadIdx.x == 0) {
        asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(sBar) : "memory");
        asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        asm volatile("fence.proxy.tensormap::generic.acquire.gpu [%0], 128;" ::"l"(mapAddr) : "memory");
        asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(sBar), "r"(BOX_BYTES) : "memory");
        asm volatile(
            "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];"
            ::"r"(sTile), "l"(mapAddr), "r"(col0), "r"(row0), "r"(sBar)
            : "memory");
    }
    asm volatile(
        "{\n.reg .pred done;\nWAIT_BOX:\n"
        "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], 0;\n"
        "@!done bra WAIT_BOX;\n}\n" ::"r"(sBar)
        : "memory");
    for (int i = threadIdx.x; i < BOX_BYTES; i += blockDim.x) out[i] = tile[i];
#else
    __trap();
#endif
}

uint16_t value_at(int r, int c) { return static_cast<uint16_t>((r * 131 + c * 7 + 1) & 0x7f7f); }

// What the GEMMs' cp.async loaders put in a stage for rows [row0, row0+128) and columns [col0, col0+64):
// 16-byte chunk j of tile row r at prefill_mma::swizzle<128>(r, j), rows past the matrix zero.
__global__ void expected_box(const uint16_t* matrix, int col0, int row0, uint8_t* out) {
    for (int i = threadIdx.x; i < BOX_ROWS * 8; i += blockDim.x) {
        const int r = i / 8, j = i % 8;
        const int gr = row0 + r;
        uint4 v = make_uint4(0, 0, 0, 0);
        if (gr < ROWS) v = *reinterpret_cast<const uint4*>(matrix + (size_t)gr * COLS + col0 + j * 8);
        *reinterpret_cast<uint4*>(out + prefill_mma::swizzle<128>(r, j)) = v;
    }
}

void print_map(const char* name, const uint8_t* m) {
    std::printf("%-28s", name);
    for (int i = 0; i < 128; ++i) std::printf("%s%02x", i % 16 == 0 && i ? " | " : (i % 4 == 0 && i ? " " : ""), m[i]);
    std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
    // No argument: every map's bytes, and the driver's map's loads. V: variant V's loads alone, so that a
    // map that faults or never completes (which loses the context) costs only its own process.
    const int only = argc > 1 ? std::atoi(argv[1]) : -1;
    std::printf("tensormap_probe: %d x %d bf16, box %d cols x %d rows, 128-byte swizzle\n", ROWS, COLS, BOX_COLS, BOX_ROWS);

    std::vector<uint16_t> host((size_t)ROWS * COLS);
    for (int r = 0; r < ROWS; ++r)
        for (int c = 0; c < COLS; ++c) host[(size_t)r * COLS + c] = value_at(r, c);
    void* matrix;
    CHECK(cudaMalloc(&matrix, host.size() * 2));
    CHECK(cudaMemcpy(matrix, host.data(), host.size() * 2, cudaMemcpyHostToDevice));

    // 1. The driver's encoding.
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult q;
    CHECK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &q));
    if (fn == nullptr || q != cudaDriverEntryPointSuccess) {
        std::printf("no cuTensorMapEncodeTiled in this driver\n");
        return 2;
    }
    CUtensorMap driverMap;
    std::memset(&driverMap, 0, sizeof driverMap);
    const cuuint64_t dims[2] = {COLS, ROWS};
    const cuuint64_t strides[1] = {(cuuint64_t)COLS * 2};
    const cuuint32_t box[2] = {BOX_COLS, BOX_ROWS};
    const cuuint32_t estr[2] = {1, 1};
    CUresult cr = reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn)(
        &driverMap, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, matrix, dims, strides, box, estr, CU_TENSOR_MAP_INTERLEAVE_NONE,
        CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_NONE, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (cr != CUDA_SUCCESS) {
        std::printf("cuTensorMapEncodeTiled failed: %d\n", (int)cr);
        return 2;
    }
    const uint8_t* driverBytes = reinterpret_cast<const uint8_t*>(&driverMap);
    print_map("driver", driverBytes);

    // 2. Device-built variants, each in its own 128 bytes (64-byte aligned: cudaMalloc gives 256).
    const Variant variants[] = {
        {"replace rank=2 estr", 2, true},
        {"replace rank=1 estr", 1, true},
        {"replace rank=2 no-estr", 2, false},
        {"replace rank=1 no-estr", 1, false},
    };
    constexpr int NV = sizeof(variants) / sizeof(variants[0]);
    uint8_t* maps;  // [NV + 1][128]: the variants, then the driver's map copied in
    CHECK(cudaMalloc(&maps, (NV + 1) * 128));
    CHECK(cudaMemset(maps, 0, (NV + 1) * 128));
    for (int v = 0; v < NV; ++v) {
        build_map<<<1, 1>>>(maps + v * 128, matrix, variants[v].rankValue, variants[v].elementStrides ? 1 : 0);
        CHECK(cudaGetLastError());
    }
    CHECK(cudaMemcpy(maps + NV * 128, driverBytes, 128, cudaMemcpyHostToDevice));
    CHECK(cudaDeviceSynchronize());
    std::vector<uint8_t> built((NV + 1) * 128);
    CHECK(cudaMemcpy(built.data(), maps, built.size(), cudaMemcpyDeviceToHost));

    // 3 and 4. Bytes against the driver's, then what each map loads.
    CHECK(cudaFuncSetAttribute(load_box, cudaFuncAttributeMaxDynamicSharedMemorySize, BOX_BYTES + 1024));
    uint8_t *out, *ref;
    CHECK(cudaMalloc(&out, BOX_BYTES));
    CHECK(cudaMalloc(&ref, BOX_BYTES));
    const int boxes[2][2] = {{64, 128}, {448, 256}};  // inside; rows 256..383 of 300
    if (only < 0) {
        for (int v = 0; v < NV; ++v) {
            const uint8_t* m = &built[v * 128];
            int differ = 0;
            std::printf("%s: bytes differing from the driver's:", variants[v].name);
            for (int i = 0; i < 128; ++i)
                if (m[i] != driverBytes[i]) {
                    ++differ;
                    std::printf(" %d(%02x/%02x)", i, m[i], driverBytes[i]);
                }
            std::printf(" -> %d\n", differ);
            print_map(variants[v].name, m);
        }
    } else if (only >= NV) {
        std::printf("no variant %d (0..%d)\n", only, NV - 1);
        return 2;
    }
    const int v = only < 0 ? NV : only;
    const char* name = v < NV ? variants[v].name : "driver (copied to global)";
    {
        bool allOk = true;
        for (const auto& b : boxes) {
            std::vector<uint8_t> got(BOX_BYTES, 0);
            load_box<<<1, 128, BOX_BYTES + 1024>>>(maps + v * 128, b[0], b[1], out);
            cudaError_t e = cudaDeviceSynchronize();
            if (e != cudaSuccess) {
                std::printf("%s: box (%d, %d): launch failed: %s\n", name, b[0], b[1], cudaGetErrorString(e));
                return 1;
            }
            CHECK(cudaMemcpy(got.data(), out, BOX_BYTES, cudaMemcpyDeviceToHost));
            expected_box<<<1, 256>>>(static_cast<const uint16_t*>(matrix), b[0], b[1], ref);
            CHECK(cudaDeviceSynchronize());
            std::vector<uint8_t> want(BOX_BYTES);
            CHECK(cudaMemcpy(want.data(), ref, BOX_BYTES, cudaMemcpyDeviceToHost));
            int bad = 0, first = -1;
            for (int i = 0; i < BOX_BYTES; ++i)
                if (got[i] != want[i]) {
                    if (first < 0) first = i;
                    ++bad;
                }
            std::printf("%s: box (col %d, row %d): %d of %d bytes differ from the loaders' layout", name, b[0], b[1], bad,
                        BOX_BYTES);
            if (bad) std::printf(" (first at %d: %02x, want %02x)", first, got[first], want[first]);
            std::printf("\n");
            allOk = allOk && bad == 0;
        }
        std::printf("%s: %s\n", name, allOk ? "LOADS THE LOADERS' LAYOUT" : "wrong");
        return allOk ? 0 : 1;
    }
}
