#!/usr/bin/env python3
"""Builds tiny seeded Qwen2 checkpoints with transformers and records what transformers computes on them.

The Java CPU engine's golden parity tests read what this writes (src/test/resources/reference/<name>/):
model.safetensors (bf16, as real checkpoints), config.json in the shape real Qwen2.5 uses (rope_theta at the
top level, rope_scaling with type yarn), generation_config.json and references.json. The references are
computed by the float32 upcast of the very bf16 weights that were saved, reloaded from disk through the
written config.json, with eager attention on the CPU (no TF32, deterministic).

usage: python3 make_references.py OUT_DIR
"""
import inspect
import json
import math
import os
import sys

import numpy as np
import torch
import transformers
from safetensors import safe_open
from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

NEW_TOKENS = 32
TOP = 20


def log(*a):
    print("[ref]", *a, flush=True)


# name, seed, shape, rope, prompt lengths
CHECKPOINTS = [
    # (a) untied embeddings, head_dim 64, group size 2
    dict(name="tiny-untied-hd64-g2", seed=1234, hidden=128, heads=2, kv_heads=1, layers=3, inter=384, vocab=1024,
         tie=False, theta=1000000.0, max_pos=256, yarn=None, prompts=[5, 17, 40, 64]),
    # (b) tied embeddings, head_dim 128, group size 3
    dict(name="tiny-tied-hd128-g3", seed=5678, hidden=384, heads=3, kv_heads=1, layers=2, inter=64, vocab=512,
         tie=True, theta=10000.0, max_pos=256, yarn=None, prompts=[6, 23, 48, 64]),
    # (c) YaRN factor 4 over a 32-token original window, so positions past 32 exercise the scaling
    dict(name="tiny-yarn-f4", seed=91011, hidden=128, heads=2, kv_heads=1, layers=2, inter=256, vocab=512,
         tie=True, theta=10000.0, max_pos=128, yarn=dict(factor=4.0, original=32), prompts=[8, 40, 96]),
]


def qwen_config_json(c):
    """config.json as Qwen2.5 ships it (legacy rope_theta / rope_scaling keys, not transformers 5's rope_parameters)."""
    cfg = {
        "architectures": ["Qwen2ForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": 0,
        "eos_token_id": 1,
        "hidden_act": "silu",
        "hidden_size": c["hidden"],
        "initializer_range": 0.02,
        "intermediate_size": c["inter"],
        "max_position_embeddings": c["max_pos"],
        "max_window_layers": c["layers"],
        "model_type": "qwen2",
        "num_attention_heads": c["heads"],
        "num_hidden_layers": c["layers"],
        "num_key_value_heads": c["kv_heads"],
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": c["theta"],
        "sliding_window": c["max_pos"],
        "tie_word_embeddings": c["tie"],
        "torch_dtype": "bfloat16",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": c["vocab"],
    }
    if c["yarn"]:
        cfg["rope_scaling"] = {"type": "yarn", "factor": c["yarn"]["factor"],
                               "original_max_position_embeddings": c["yarn"]["original"]}
    return cfg


def build_config(cj):
    """A Qwen2Config from the Qwen2.5-style dict, through the same path from_pretrained uses."""
    return Qwen2Config.from_dict(dict(cj))


def rotary(model):
    return model.model.rotary_emb


def init_weights(model, seed):
    """Weights like a real checkpoint's in kind: non-zero q/k/v biases with large k biases, norms not all ones."""
    g = torch.Generator().manual_seed(seed)

    def randn(p, std, mean=0.0):
        return mean + std * torch.randn(p.shape, generator=g, dtype=torch.float32)

    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                v = randn(p, 0.1, 1.0)
            elif name.endswith("k_proj.bias"):
                v = randn(p, 3.0)
            elif name.endswith("q_proj.bias"):
                v = randn(p, 0.5)
            elif name.endswith("v_proj.bias"):
                v = randn(p, 0.2)
            elif "embed_tokens" in name or name.startswith("lm_head"):
                v = randn(p, 0.05)
            else:
                v = randn(p, 0.04)
            p.copy_(v)


def floats(t):
    return [float(x) for x in t.detach().to(torch.float32).reshape(-1).tolist()]


@torch.no_grad()
def greedy_manual(model, ids, n):
    """Greedy decoding by full forward passes (no KV cache): cross-checks generate() and records margins."""
    seq = list(ids)
    margins = []
    for _ in range(n):
        logits = model(torch.tensor([seq])).logits[0, -1]
        top2 = torch.topk(logits, 2)
        margins.append(float(top2.values[0] - top2.values[1]))
        seq.append(int(top2.indices[0]))
    return seq[len(ids):], min(margins)


@torch.no_grad()
def greedy_generate(model, ids, n):
    gc = GenerationConfig(do_sample=False, max_new_tokens=n, min_new_tokens=0, eos_token_id=None,
                          pad_token_id=0, bos_token_id=None, num_beams=1)
    # Replace the checkpoint's defaults entirely: generate() fills unset fields (eos ids) from them.
    model.generation_config = gc
    inp = torch.tensor([ids])
    out = model.generate(input_ids=inp, attention_mask=torch.ones_like(inp), generation_config=gc)
    new = out[0, len(ids):].tolist()
    assert len(new) == n, f"generate returned {len(new)} new tokens, expected {n}"
    return [int(x) for x in new]


def zero_qkv_biases(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("q_proj.bias", "k_proj.bias", "v_proj.bias")):
                p.zero_()


def check_saved_tensors(path, c):
    names = {}
    with safe_open(path, framework="pt") as f:
        for k in f.keys():
            t = f.get_tensor(k)
            assert t.dtype == torch.bfloat16, f"{k} is {t.dtype}, expected bf16"
            names[k] = list(t.shape)
    assert "model.embed_tokens.weight" in names
    assert ("lm_head.weight" in names) == (not c["tie"]), f"lm_head presence wrong for tie={c['tie']}"
    for i in range(c["layers"]):
        for p in ("q", "k", "v"):
            assert f"model.layers.{i}.self_attn.{p}_proj.bias" in names
        assert f"model.layers.{i}.self_attn.o_proj.bias" not in names
    log(f"  saved {len(names)} bf16 tensors, lm_head {'absent (tied)' if c['tie'] else 'present'}")


def make(c, root):
    name = c["name"]
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    log(f"== {name}")
    cj = qwen_config_json(c)
    torch.manual_seed(c["seed"])
    model = Qwen2ForCausalLM(build_config(cj)).to(torch.float32)
    init_weights(model, c["seed"])
    if c["tie"]:
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr(), "embeddings not tied"
    try:
        model.to(torch.bfloat16).save_pretrained(d, safe_serialization=True)
    except TypeError:  # transformers versions that only write safetensors dropped the flag
        model.to(torch.bfloat16).save_pretrained(d)
    # What transformers 5 wrote uses its own rope_parameters layout; real checkpoints use the legacy keys.
    log("  transformers wrote config keys:", sorted(json.load(open(os.path.join(d, "config.json"))).keys()))
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cj, f, indent=2)
    with open(os.path.join(d, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 0, "pad_token_id": 0, "do_sample": True, "eos_token_id": [1, 2],
                   "repetition_penalty": 1.05, "temperature": 0.7, "top_p": 0.8, "top_k": 20}, f, indent=2)
    for extra in os.listdir(d):
        if extra not in ("model.safetensors", "config.json", "generation_config.json"):
            os.remove(os.path.join(d, extra))
    check_saved_tensors(os.path.join(d, "model.safetensors"), c)

    # Reload through the Qwen2.5-style config.json: float32 upcast of the saved bf16 weights, eager attention.
    m = Qwen2ForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
    assert next(m.parameters()).dtype == torch.float32
    try:
        log("  reloaded config rope:", getattr(m.config, "rope_parameters", None), getattr(m.config, "rope_scaling", None))
    except Exception as e:
        log("  (could not print reloaded rope config:", e, ")")
    rot = rotary(m)
    rope_type = getattr(rot, "rope_type", None)
    inv_freq = rot.inv_freq.detach().to(torch.float32)
    att = float(getattr(rot, "attention_scaling", 1.0))
    hd = c["hidden"] // c["heads"]
    default_inv = 1.0 / (c["theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    log(f"  rotary: type={rope_type} attention_scaling={att} inv_freq[:4]={floats(inv_freq[:4])}")
    if c["yarn"]:
        assert rope_type == "yarn", f"YaRN not applied: rotary type {rope_type}"
        want_att = 0.1 * math.log(c["yarn"]["factor"]) + 1.0
        assert abs(att - want_att) < 1e-6, f"attention scaling {att}, expected {want_att}"
        changed = int((inv_freq - default_inv).abs().gt(1e-9).sum())
        assert changed > 0, "YaRN left inv_freq unchanged"
        log(f"  VERIFIED YaRN applied: attention_scaling={att:.6f}, {changed}/{len(inv_freq)} inv_freq entries scaled")
    else:
        assert rope_type in (None, "default"), f"unexpected rope type {rope_type}"
        assert abs(att - 1.0) < 1e-12
        assert torch.allclose(inv_freq, default_inv), "default inv_freq differs from theta^(-2i/d)"
        log("  VERIFIED default RoPE")
    # The reloaded float32 weights must be exactly the bf16 values.
    for n_, p in m.named_parameters():
        assert torch.equal(p, p.to(torch.bfloat16).to(torch.float32)), f"{n_} is not a bf16 upcast"

    rng = np.random.RandomState(c["seed"])
    prompts = []
    for length in c["prompts"]:
        ids = [int(x) for x in rng.randint(3, c["vocab"], size=length)]
        with torch.no_grad():
            logits = m(torch.tensor([ids])).logits[0].to(torch.float32)  # [len][vocab]
        last = logits[-1]
        logprobs = torch.log_softmax(last, dim=-1)
        top = torch.topk(last, TOP)
        argmax = [int(x) for x in logits.argmax(dim=-1).tolist()]
        greedy = greedy_generate(m, ids, NEW_TOKENS)
        manual, margin = greedy_manual(m, ids, NEW_TOKENS)
        if manual != greedy:
            log(f"  WARNING generate() and the cache-free loop differ for prompt len {length}")
        prompts.append(dict(ids=ids, last_logits=floats(last), top_ids=[int(x) for x in top.indices.tolist()],
                            top_logits=floats(top.values), top_logprobs=floats(logprobs[top.indices]),
                            argmax=argmax, greedy=greedy, greedy_min_margin=margin))
        log(f"  prompt len {length}: argmax[-1]={argmax[-1]} greedy[:8]={greedy[:8]} min margin {margin:.4g} "
            f"logit std {float(last.std()):.3f}")

    # Bias ablation on the same float32 model, in place.
    zero_qkv_biases(m)
    for p in prompts:
        p["greedy_no_bias"] = greedy_generate(m, p["ids"], NEW_TOKENS)
        manual, margin = greedy_manual(m, p["ids"], NEW_TOKENS)
        p["greedy_no_bias_min_margin"] = margin
        if manual != p["greedy_no_bias"]:
            log(f"  WARNING no-bias generate() and loop differ for prompt len {len(p['ids'])}")
    differs = sum(p["greedy_no_bias"] != p["greedy"] for p in prompts)
    assert differs == len(prompts), f"bias ablation changed only {differs}/{len(prompts)} continuations"
    log(f"  VERIFIED bias ablation changes all {differs} continuations")

    ref = dict(name=name, transformers=transformers.__version__, torch=torch.__version__,
               rope_type=rope_type or "default", inv_freq=floats(inv_freq), attention_scaling=att,
               new_tokens=NEW_TOKENS, prompts=prompts)
    with open(os.path.join(d, "references.json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))
    size = sum(os.path.getsize(os.path.join(d, x)) for x in os.listdir(d))
    log(f"  wrote {d}: {size / 1e6:.2f} MB")
    assert size < 3_000_000, f"{name} is {size} bytes"


def main():
    out = sys.argv[1]
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(4)
    log("transformers", transformers.__version__, "torch", torch.__version__)
    try:
        from transformers import modeling_rope_utils as mru
        with open(os.path.join(out, "transformers_yarn_source.txt"), "w") as f:
            f.write(inspect.getsource(mru._compute_yarn_parameters))
    except Exception as e:  # only for the record; the checks above do not depend on it
        log("could not dump _compute_yarn_parameters:", e)
    root = os.path.join(out, "reference")
    os.makedirs(root, exist_ok=True)
    failed = []
    for c in CHECKPOINTS:
        try:
            make(c, root)
        except Exception:
            import traceback
            traceback.print_exc()
            failed.append(c["name"])
    log("FAILED:" if failed else "ALL DONE", *failed)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
