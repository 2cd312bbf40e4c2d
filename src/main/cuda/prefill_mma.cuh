// prefill_mma.cuh: PTX wrappers shared by the prefill GEMM and prefill attention kernels
// (sm_80+: cp.async, ldmatrix, mma.sync m16n8k16 bf16 with f32 accumulation).
// Everything lives in namespace prefill_mma because build-kernels.sh compiles all .cu files as one
// translation unit; the include guard keeps the two including files from redefining it.
#pragma once
#include <cuda_bf16.h>
#include <stdint.h>

namespace prefill_mma {

static __device__ __forceinline__ uint32_t smem_addr(const void* p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte global->shared copy; when !valid the 16 bytes are zero-filled and nothing is read
// (src must still be a mapped address, callers pass a clamped row).
static __device__ __forceinline__ void cp_async_16(uint32_t dst, const void* src, bool valid) {
    int bytes = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(bytes));
}

static __device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

template <int PENDING>
static __device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(PENDING));
}

static __device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

static __device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

// c[16x8] += a[16x16] * b[16x8]; fragment layouts as in the PTX ISA for m16n8k16 .bf16.
static __device__ __forceinline__ void mma_bf16_16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                                      uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

static __device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&v);
}

// Byte offset of 16-byte chunk `chunk` of row `row` in a shared tile whose rows are ROW_BYTES long.
// XOR-ing the chunk with (row & 7) puts the 8 rows one ldmatrix phase reads (same logical chunk) in
// 8 different bank groups, so neither cp.async stores nor ldmatrix loads conflict.
template <int ROW_BYTES>
static __device__ __forceinline__ uint32_t swizzle(int row, int chunk) {
    return static_cast<uint32_t>(row * ROW_BYTES + ((chunk ^ (row & 7)) << 4));
}

}  // namespace prefill_mma
