"""The graph peer's prefill kernels at the 8K prompt's shapes, alone, for `ncu` and CUDA events.

Runs on the GPU machine (python3 with PyTorch): causal SDPA over 8192 tokens (28 query heads, 4 KV
heads, head dim 128) and the cuBLAS projections of Qwen2.5-7B at 8192 rows (gate/up fused, down,
o_proj), each on unit-normal activations and weights of the 7B's scale, as bench_graph_peer.py's
prompt breakdown times them. Prints '<name> <median us> <TFLOP/s>' per case, as prefill_profile.cu.
Usage: python3 peer_kernels.py [--reps N] [--only NAME]
"""
import argparse

import torch
import torch.nn.functional as F


def median_us(fn, reps):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1e3)
    times.sort()
    return times[len(times) // 2]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--only", default=None)
    args = p.parse_args()
    t, hidden, qh, kvh, hd, ffn = 8192, 3584, 28, 4, 128, 18944
    dev, bf = "cuda", torch.bfloat16
    print(f"device {torch.cuda.get_device_name()}, torch {torch.__version__}")

    def case(name, fn, flops):
        if args.only and args.only not in name:
            return
        us = median_us(fn, args.reps)
        print(f"{name} {us:.1f} {flops / (us * 1e6):.0f}", flush=True)

    q = torch.randn(1, qh, t, hd, device=dev, dtype=bf)
    k = torch.randn(1, kvh, t, hd, device=dev, dtype=bf)
    v = torch.randn(1, kvh, t, hd, device=dev, dtype=bf)
    case("sdpa", lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True),
         4.0 * qh * (t * (t + 1) / 2) * hd)
    x = torch.randn(t, hidden, device=dev, dtype=bf)
    xf = torch.randn(t, ffn, device=dev, dtype=bf)
    wgu = torch.randn(2 * ffn, hidden, device=dev, dtype=bf) * 0.02
    wd = torch.randn(hidden, ffn, device=dev, dtype=bf) * 0.02
    wo = torch.randn(hidden, hidden, device=dev, dtype=bf) * 0.02
    case("cublas_gateup", lambda: F.linear(x, wgu), 2.0 * t * 2 * ffn * hidden)
    case("cublas_down", lambda: F.linear(xf, wd), 2.0 * t * hidden * ffn)
    case("cublas_o_proj", lambda: F.linear(x, wo), 2.0 * t * hidden * hidden)


if __name__ == "__main__":
    main()
