#!/usr/bin/env python3
"""The fair peer for `bench`: a hand-written PyTorch Qwen2 decode loop captured as one CUDA graph.

What a performance engineer writes in an afternoon without torch.compile (the gpt-fast recipe):
  * weights read straight from the safetensors shards, bf16, with q/k/v fused into one matrix (and
    one bias) and gate/up fused into another, so a layer is four cuBLAS GEMMs;
  * a static KV cache [layers][batch][kvHeads][maxT][headDim] sized for the run, written in place;
  * decode attention by SDPA over the whole static cache with a length mask (GQA native);
  * the whole decode step (embedding to argmax, and the position increment) captured as one CUDA
    graph per batch size, replayed back to back: no Python or launch overhead per token.
Prefill (time to first token) runs eagerly with causal SDPA, as gpt-fast does.

Before timing, the peer checks itself against transformers on the same weights (argmax agreement
and relative L2 of the last position's logits), so a fast-but-wrong peer cannot pass unnoticed.

usage: python3 bench_graph_peer.py MODEL_DIR OUT_JSON
Writes the keys of bench_transformers.py, plus decode_b128/b256 at 1K context and the self-check.
"""
import glob
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F
from safetensors.torch import load_file


def log(*a):
    print("[graph-peer]", *a, flush=True)


def sync_time():
    torch.cuda.synchronize()
    return time.perf_counter()


class Qwen2Static:
    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            c = json.load(f)
        self.c = c
        self.L = c["num_hidden_layers"]
        self.H = c["num_attention_heads"]
        self.KV = c["num_key_value_heads"]
        self.D = c["hidden_size"] // self.H
        self.eps = c["rms_norm_eps"]
        self.theta = c.get("rope_theta", 10000.0)
        w = {}
        for shard in sorted(glob.glob(os.path.join(model_dir, "*.safetensors"))):
            w.update(load_file(shard, device="cuda"))
        bf = torch.bfloat16
        self.embed = w["model.embed_tokens.weight"].to(bf)
        self.lm_head = w["lm_head.weight"].to(bf) if "lm_head.weight" in w else self.embed
        self.final_norm = w["model.norm.weight"].to(bf)
        self.layers = []
        for i in range(self.L):
            p = f"model.layers.{i}."
            g = lambda n: w.pop(p + n).to(bf)
            self.layers.append(dict(
                ln1=g("input_layernorm.weight"),
                wqkv=torch.cat([g("self_attn.q_proj.weight"), g("self_attn.k_proj.weight"),
                                g("self_attn.v_proj.weight")]).contiguous(),
                bqkv=torch.cat([g("self_attn.q_proj.bias"), g("self_attn.k_proj.bias"),
                                g("self_attn.v_proj.bias")]).contiguous(),
                wo=g("self_attn.o_proj.weight"),
                ln2=g("post_attention_layernorm.weight"),
                wgu=torch.cat([g("mlp.gate_proj.weight"), g("mlp.up_proj.weight")]).contiguous(),
                wd=g("mlp.down_proj.weight"),
            ))
        del w
        torch.cuda.empty_cache()

    def rms(self, x, weight):
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (xf.to(x.dtype)) * weight

    def rope_tables(self, max_t):
        inv = 1.0 / (self.theta ** (torch.arange(0, self.D, 2, device="cuda", dtype=torch.float32) / self.D))
        ang = torch.arange(max_t, device="cuda", dtype=torch.float32)[:, None] * inv[None]
        return torch.cos(ang), torch.sin(ang)  # [maxT][D/2]

    @staticmethod
    def rotate(x, cos, sin):
        # Half-split rotation: pairs (i, i + D/2). x [..., D]; cos/sin broadcast to [..., D/2].
        h = x.shape[-1] // 2
        x1, x2 = x[..., :h].float(), x[..., h:].float()
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1).to(x.dtype)

    def alloc_cache(self, batch, max_t):
        shape = (self.L, batch, self.KV, max_t, self.D)
        self.k_cache = torch.zeros(shape, dtype=torch.bfloat16, device="cuda")
        self.v_cache = torch.zeros(shape, dtype=torch.bfloat16, device="cuda")
        self.max_t = max_t
        self.cos, self.sin = self.rope_tables(max_t)

    def prefill(self, ids, row0=0):
        """ids [B][T] starting at position 0 into cache rows row0..row0+B-1; returns last logits [B][V]."""
        B, T = ids.shape
        x = self.embed[ids]  # [B][T][hidden]
        cos, sin = self.cos[:T][None, None], self.sin[:T][None, None]
        for li, ly in enumerate(self.layers):
            h = self.rms(x, ly["ln1"])
            qkv = F.linear(h, ly["wqkv"], ly["bqkv"])
            q, k, v = qkv.split([self.H * self.D, self.KV * self.D, self.KV * self.D], -1)
            q = self.rotate(q.view(B, T, self.H, self.D).transpose(1, 2), cos, sin)
            k = self.rotate(k.view(B, T, self.KV, self.D).transpose(1, 2), cos, sin)
            v = v.view(B, T, self.KV, self.D).transpose(1, 2)
            self.k_cache[li, row0:row0 + B, :, :T] = k
            self.v_cache[li, row0:row0 + B, :, :T] = v
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
            x = x + F.linear(a.transpose(1, 2).reshape(B, T, self.H * self.D), ly["wo"])
            h = self.rms(x, ly["ln2"])
            g, u = F.linear(h, ly["wgu"]).chunk(2, -1)
            x = x + F.linear(F.silu(g) * u, ly["wd"])
        return F.linear(self.rms(x[:, -1], self.final_norm), self.lm_head)

    def decode_step(self, tok, pos):
        """tok [B] int64, pos [B] int64 (device tensors, updated in place): one token per sequence."""
        B = tok.shape[0]
        rows = torch.arange(B, device="cuda")
        x = self.embed[tok]  # [B][hidden]
        cos, sin = self.cos[pos][:, None], self.sin[pos][:, None]  # [B][1][D/2]
        mask = (torch.arange(self.max_t, device="cuda")[None] <= pos[:, None])[:, None, None]  # [B][1][1][maxT]
        for li, ly in enumerate(self.layers):
            h = self.rms(x, ly["ln1"])
            qkv = F.linear(h, ly["wqkv"], ly["bqkv"])
            q, k, v = qkv.split([self.H * self.D, self.KV * self.D, self.KV * self.D], -1)
            q = self.rotate(q.view(B, self.H, self.D), cos, sin)
            k = self.rotate(k.view(B, self.KV, self.D), cos, sin)
            self.k_cache[li, rows, :, pos] = k
            self.v_cache[li, rows, :, pos] = v.view(B, self.KV, self.D)
            a = F.scaled_dot_product_attention(q[:, :, None], self.k_cache[li], self.v_cache[li],
                                               attn_mask=mask, enable_gqa=True)
            x = x + F.linear(a.reshape(B, self.H * self.D), ly["wo"])
            h = self.rms(x, ly["ln2"])
            g, u = F.linear(h, ly["wgu"]).chunk(2, -1)
            x = x + F.linear(F.silu(g) * u, ly["wd"])
        logits = F.linear(self.rms(x, self.final_norm), self.lm_head)
        tok.copy_(logits.argmax(-1))
        pos.add_(1)
        return logits


def self_check(model_dir, peer, n=48):
    """Argmax agreement and relative L2 against transformers on one random prompt."""
    from transformers import AutoModelForCausalLM
    g = torch.Generator().manual_seed(11)
    ids = torch.randint(3, peer.embed.shape[0] - 1000, (1, n), generator=g).cuda()
    peer.alloc_cache(1, n + 8)
    ours = peer.prefill(ids).float()
    tok = ours.argmax(-1)
    pos = torch.tensor([n], device="cuda")
    ours_next = peer.decode_step(tok.clone(), pos).float()
    ref_model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16, device_map="cuda").eval()
    full = torch.cat([ids, tok[:, None]], 1)
    ref = ref_model(full).logits[0, -2:].float()
    del ref_model
    torch.cuda.empty_cache()
    rel = [float((a - b).norm() / b.norm()) for a, b in ((ours[0], ref[0]), (ours_next[0], ref[1]))]
    top1 = [int(ours[0].argmax() == ref[0].argmax()), int(ours_next[0].argmax() == ref[1].argmax())]
    log(f"self-check vs transformers bf16: rel L2 prefill {rel[0]:.2e}, decode {rel[1]:.2e}; top-1 {top1}")
    return {"rel_l2_prefill": rel[0], "rel_l2_decode": rel[1], "top1_agree": top1}


def best_us(fn, reps=5):
    """GPU microseconds of fn(), the best of reps after one warm-up, by CUDA events."""
    fn()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    best = float("inf")
    for _ in range(reps):
        a.record()
        fn()
        b.record()
        b.synchronize()
        best = min(best, a.elapsed_time(b) * 1e3)
    return best


@torch.no_grad()
def prompt_breakdown(peer, r, t=8192):
    """cuBLAS on each projection of an 8K prompt (layer 0's weights) and SDPA's causal attention of one
    layer, as cublas_{qkv,o,gateup,down}_m8192_{random,zeros}_us and sdpa_causal_8192{,_zeros}_us: bench's wgmma GEMMs and flash
    attention are timed on the same shapes, so the TTFT row's gap can be laid where it is."""
    ly = peer.layers[0]
    bf = torch.bfloat16
    g = torch.Generator(device="cuda").manual_seed(5)
    hidden, inter = ly["wo"].shape[0], ly["wd"].shape[1]
    x = torch.randn(t, hidden, dtype=bf, device="cuda", generator=g)
    act = torch.randn(t, inter, dtype=bf, device="cuda", generator=g)
    shapes = {"qkv": (x, ly["wqkv"]), "o": (x, ly["wo"]), "gateup": (x, ly["wgu"]), "down": (act, ly["wd"])}
    # Zero operands as well: bench times its GEMMs on zeros, which draw less power than random data.
    for kind in ("random", "zeros"):
        parts = []
        for name, (a, w) in shapes.items():
            if kind == "zeros":
                a, w = torch.zeros_like(a), torch.zeros_like(w)
            us = best_us(lambda: F.linear(a, w))
            r[f"cublas_{name}_m{t}_{kind}_us"] = us
            parts.append(f"{name} {us:.1f} us ({2.0 * t * w.shape[0] * w.shape[1] / (us * 1e6):.0f} TFLOP/s)")
            del a, w
        log(f"cuBLAS projections, {t} rows, {kind} operands: " + "; ".join(parts))
    q = torch.randn(1, peer.H, t, peer.D, dtype=bf, device="cuda", generator=g)
    k = torch.randn(1, peer.KV, t, peer.D, dtype=bf, device="cuda", generator=g)
    v = torch.randn(1, peer.KV, t, peer.D, dtype=bf, device="cuda", generator=g)
    us = best_us(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True))
    r[f"sdpa_causal_{t}_us"] = us
    flops = 4.0 * peer.H * peer.D * t * t / 2
    log(f"SDPA causal attention, {t} tokens, one layer: {us:.1f} us ({flops / (us * 1e6):.0f} TFLOP/s)")
    # On zeros too, as bench times its own kernels beside its unit-normal line.
    q, k, v = torch.zeros_like(q), torch.zeros_like(k), torch.zeros_like(v)
    us = best_us(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True))
    r[f"sdpa_causal_{t}_zeros_us"] = us
    log(f"SDPA causal attention, {t} tokens, one layer, zero operands: {us:.1f} us ({flops / (us * 1e6):.0f} TFLOP/s)")


@torch.no_grad()
def main():
    model_dir, out = sys.argv[1], sys.argv[2]
    r = {"peer": "pytorch-cuda-graph", "torch": torch.__version__}
    t = sync_time()
    peer = Qwen2Static(model_dir)
    r["load_s"] = sync_time() - t
    log(f"loaded in {r['load_s']:.1f}s (torch {torch.__version__})")
    r["self_check"] = self_check(model_dir, peer)
    vocab = peer.embed.shape[0]
    g = torch.Generator().manual_seed(7)

    def ids(b, n):
        return torch.randint(3, vocab - 1000, (b, n), generator=g).cuda()

    def decode(batch, ctx, steps):
        peer.k_cache = peer.v_cache = None
        torch.cuda.empty_cache()
        # The static cache holds exactly what the run needs, rounded up, as gpt-fast sizes it.
        peer.alloc_cache(batch, int(math.ceil((ctx + steps + 8) / 64.0) * 64))
        # Prefill a few rows at a time: 256 x 1K tokens at once would not fit beside the cache.
        rows = max(1, 16384 // ctx)
        tok = torch.cat([peer.prefill(ids(min(rows, batch - r0), ctx), r0).argmax(-1)
                         for r0 in range(0, batch, rows)])
        pos = torch.full((batch,), ctx, dtype=torch.long, device="cuda")
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):  # warm-up outside the graph (allocator, cuBLAS handles)
            for _ in range(2):
                peer.decode_step(tok, pos)
        torch.cuda.current_stream().wait_stream(s)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            peer.decode_step(tok, pos)
        pos.fill_(ctx + 2)
        for _ in range(2):
            graph.replay()
        t0 = sync_time()
        for _ in range(steps):
            graph.replay()
        dt = sync_time() - t0
        del graph
        return batch * steps / dt

    def row(key, fn):
        try:
            r[key] = fn()
            log(f"{key}: {r[key]:.1f}")
        except Exception as e:  # one row failing (e.g. memory) must not lose the others
            r[key] = None
            log(f"{key}: failed: {type(e).__name__}: {e}")

    for ctx in (128, 8192):
        row(f"decode_b1_ctx{ctx}_tok_s", lambda: decode(1, ctx, 64))

    def ttft(n):
        peer.k_cache = peer.v_cache = None
        torch.cuda.empty_cache()
        peer.alloc_cache(1, n + 8)
        best = 1e9
        for _ in range(3):
            x = ids(1, n)
            t0 = sync_time()
            peer.prefill(x).argmax(-1)
            best = min(best, sync_time() - t0)
        return best * 1e3

    for n in (1024, 8192):
        row(f"ttft_{n}_ms", lambda: ttft(n))
    for b in (16, 32, 64):
        row(f"decode_b{b}_tok_s", lambda: decode(b, 128, 32))
    for b in (128, 256):
        row(f"decode_b{b}_ctx1k_tok_s", lambda: decode(b, 1024, 32))
    peer.k_cache = peer.v_cache = None
    torch.cuda.empty_cache()
    prompt_breakdown(peer, r)
    with open(out, "w") as f:
        json.dump(r, f, indent=2)


if __name__ == "__main__":
    main()
