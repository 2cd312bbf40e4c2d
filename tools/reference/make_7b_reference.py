#!/usr/bin/env python3
"""Builds a random checkpoint with the exact Qwen2.5-7B architecture and records transformers' bf16 outputs.

Run on the GPU machine (no network, no real weights needed). Writes into OUT_DIR:
  config.json (the real Qwen2.5-7B-Instruct config, as given), model-*.safetensors + index (bf16),
  reference.json (per prompt: ids, argmax at every position, greedy continuation) and
  last_logits_<i>.f32 (little-endian float32 [vocab], the last position's logits).
The CUDA engine's 7B-scale test (Qwen7bScaleTest) compares against these.

Weights are random but shaped like a trained model's in the ways that matter to the kernels:
non-zero q/k/v biases with large k biases, norm weights around 1, lm_head untied, all bf16.

usage: python3 make_7b_reference.py OUT_DIR [CONFIG_JSON]
"""
import json
import os
import shutil
import sys
import time

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

PROMPT_LENGTHS = [7, 64, 300, 1000]
NEW_TOKENS = 24
SEED = 20261128


def log(*a):
    print("[7b]", *a, flush=True)


def main():
    out = sys.argv[1]
    cfg_path = sys.argv[2] if len(sys.argv) > 2 else "src/main/resources/qwen2.5/config.json"
    with open(cfg_path) as f:
        cj = json.load(f)
    assert cj["hidden_size"] == 3584 and cj["num_hidden_layers"] == 28, "expected the Qwen2.5-7B config"
    os.makedirs(out, exist_ok=True)
    t0 = time.time()
    config = Qwen2Config.from_dict(dict(cj))
    torch.manual_seed(SEED)
    with torch.device("cuda"):
        model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    g = torch.Generator(device="cuda").manual_seed(SEED)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                mean, std = 1.0, 0.1
            elif name.endswith("k_proj.bias"):
                mean, std = 0.0, 2.0
            elif name.endswith("q_proj.bias"):
                mean, std = 0.0, 0.5
            elif name.endswith("v_proj.bias"):
                mean, std = 0.0, 0.2
            elif "embed_tokens" in name:
                mean, std = 0.0, 0.5
            elif name.startswith("lm_head"):
                mean, std = 0.0, 0.03
            else:
                mean, std = 0.0, 0.02
            p.copy_((mean + std * torch.randn(p.shape, generator=g, device="cuda", dtype=torch.float32)).to(p.dtype))
    model.eval()
    assert model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr(), "lm_head must be untied"
    log(f"built in {time.time() - t0:.1f}s: {sum(p.numel() for p in model.parameters()) / 1e9:.2f}B params")

    t0 = time.time()
    model.save_pretrained(out, max_shard_size="4GB")
    shutil.copyfile(cfg_path, os.path.join(out, "config.json"))  # the real file, not transformers' rewrite
    size = sum(os.path.getsize(os.path.join(out, x)) for x in os.listdir(out))
    log(f"saved {size / 1e9:.2f} GB in {time.time() - t0:.1f}s to {out}")

    gen = torch.Generator().manual_seed(SEED)
    prompts = []
    for i, n in enumerate(PROMPT_LENGTHS):
        ids = torch.randint(3, cj["vocab_size"] - 1000, (n,), generator=gen).tolist()
        inp = torch.tensor([ids], device="cuda")
        with torch.no_grad():
            logits = model(inp).logits[0].float()  # [n][vocab], bf16 model, logits upcast
            argmax = logits.argmax(-1).tolist()
            last = logits[-1].cpu().contiguous()
            top2 = torch.topk(logits, 2, dim=-1).values
            margin = (top2[:, 0] - top2[:, 1]).min().item()
            gen_out = model.generate(input_ids=inp, attention_mask=torch.ones_like(inp), do_sample=False,
                                     max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, eos_token_id=None,
                                     pad_token_id=0)
        greedy = gen_out[0, n:].tolist()
        last.numpy().astype("<f4").tofile(os.path.join(out, f"last_logits_{i}.f32"))
        prompts.append(dict(ids=ids, argmax=argmax, greedy=greedy, last_logits=f"last_logits_{i}.f32",
                            min_top2_margin=margin))
        log(f"prompt {n}: argmax[-1]={argmax[-1]} greedy[:8]={greedy[:8]} logit std {last.std().item():.3f} "
            f"min top-2 margin {margin:.4f}")
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(dict(transformers=__import__("transformers").__version__, torch=torch.__version__,
                       new_tokens=NEW_TOKENS, prompts=prompts), f)
    log("done")


if __name__ == "__main__":
    main()
