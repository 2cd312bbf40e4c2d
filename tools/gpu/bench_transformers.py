#!/usr/bin/env python3
"""The benchmark's peer: the same workload as `bench` (GpuBenchCommand) through transformers.

transformers 5 with its default SDPA attention, bf16, dynamic KV cache, no torch.compile: what a
plain `from_pretrained` + `generate`-style loop gives on the same random 7B weights. Timings
include the argmax of each step's last logits, as ours include sampling.

usage: python3 bench_transformers.py MODEL_DIR OUT_JSON
"""
import json
import sys
import time

import torch
from transformers import AutoModelForCausalLM


def log(*a):
    print("[peer]", *a, flush=True)


def sync_time():
    torch.cuda.synchronize()
    return time.perf_counter()


@torch.no_grad()
def main():
    model_dir, out = sys.argv[1], sys.argv[2]
    r = {}
    t = sync_time()
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16, device_map="cuda").eval()
    r["load_s"] = sync_time() - t
    log(f"loaded in {r['load_s']:.1f}s, attention {model.config._attn_implementation}")
    vocab = model.config.vocab_size
    g = torch.Generator().manual_seed(7)

    def ids(b, n):
        return torch.randint(3, vocab - 1000, (b, n), generator=g).cuda()

    def decode(batch, ctx, steps):
        out = model(ids(batch, ctx), use_cache=True)
        pkv = out.past_key_values
        tok = out.logits[:, -1].argmax(-1, keepdim=True)
        for i in range(steps + 4):
            if i == 4:
                t0 = sync_time()
            out = model(tok, past_key_values=pkv, use_cache=True)
            pkv = out.past_key_values
            tok = out.logits[:, -1].argmax(-1, keepdim=True)
        return batch * steps / (sync_time() - t0)

    for ctx in (128, 8192):
        r[f"decode_b1_ctx{ctx}_tok_s"] = decode(1, ctx, 32)
        log(f"decode batch 1, context {ctx}: {r[f'decode_b1_ctx{ctx}_tok_s']:.1f} tok/s")
    for n in (1024, 8192):
        best = 1e9
        for _ in range(3):
            x = ids(1, n)
            t0 = sync_time()
            model(x, use_cache=True).logits[:, -1].argmax(-1)
            best = min(best, sync_time() - t0)
        r[f"ttft_{n}_ms"] = best * 1e3
        log(f"time to first token, {n}-token prompt: {best * 1e3:.1f} ms")
    for b in (16, 32, 64):
        r[f"decode_b{b}_tok_s"] = decode(b, 128, 16)
        log(f"decode {b} sequences: {r[f'decode_b{b}_tok_s']:.0f} tok/s aggregate")
    with open(out, "w") as f:
        json.dump(r, f, indent=2)


if __name__ == "__main__":
    main()
