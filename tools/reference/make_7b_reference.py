#!/usr/bin/env python3
"""Builds a random checkpoint with the exact Qwen2.5-7B architecture and records transformers' bf16 outputs.

Run on the GPU machine (no network, no real weights needed). Writes into OUT_DIR:
  config.json (the real Qwen2.5-7B-Instruct config, as given), model-*.safetensors + index (bf16),
  reference.json (per prompt: ids, argmax at every position, greedy continuation) and
  last_logits_<i>.f32 (little-endian float32 [vocab], the last position's logits).
The CUDA engine's 7B-scale test (Qwen7bScaleTest) compares against these.

Weights are random but shaped like a trained model's in the ways that matter to the kernels:
non-zero q/k/v biases with large k biases, norm weights around 1, lm_head untied, all bf16. The
o_proj and down_proj weights are scaled by 1/sqrt(2*layers) (GPT-2's residual init) so the random
network is not chaotic: without it, transformers' own bf16 run drifts from its float32 run by tens
of percent over 1000 tokens and no engine could be compared with either.

Besides the bf16 run (the model as shipped), the same weights are run upcast to float32: the more
exact oracle. reference.json records both, and how far transformers' bf16 is from its float32.

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
            elif name.endswith(("o_proj.weight", "down_proj.weight")):
                mean, std = 0.0, 0.02 / (2 * cj["num_hidden_layers"]) ** 0.5
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

    # Run what was saved, loaded the way users load a checkpoint. Not the model object built above:
    # its .to(bfloat16) also rounded the rotary inv_freq buffer to bf16 (from_pretrained keeps it
    # float32), which shifts every RoPE angle by up to 2^-9 relative, ~2 rad at position 1000.
    del model
    torch.cuda.empty_cache()
    model = Qwen2ForCausalLM.from_pretrained(out, dtype=torch.bfloat16, device_map="cuda").eval()
    inv = model.model.rotary_emb.inv_freq
    log(f"reloaded: rotary inv_freq dtype {inv.dtype}, attention {model.config._attn_implementation}")
    assert inv.dtype == torch.float32, "inv_freq must stay float32"

    gen = torch.Generator().manual_seed(SEED)
    prompt_ids = [torch.randint(3, cj["vocab_size"] - 1000, (n,), generator=gen).tolist() for n in PROMPT_LENGTHS]

    def run(m, tag):
        rows = []
        for i, ids in enumerate(prompt_ids):
            n = len(ids)
            inp = torch.tensor([ids], device="cuda")
            with torch.no_grad():
                logits = m(inp).logits[0].float()  # [n][vocab]
                top2 = torch.topk(logits, 2, dim=-1).values
                gaps = (top2[:, 0] - top2[:, 1]).tolist()
                rmss = logits.pow(2).mean(-1).sqrt().tolist()
                gen_out = m.generate(input_ids=inp, attention_mask=torch.ones_like(inp), do_sample=False,
                                     max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, eos_token_id=None,
                                     pad_token_id=0, output_logits=True, return_dict_in_generate=True)
                step_logits = torch.stack(gen_out.logits)[:, 0].float()  # [steps][vocab], raw
                step_top2 = torch.topk(step_logits, 2, dim=-1).values
                greedy_gap = (step_top2[:, 0] - step_top2[:, 1]).tolist()
                greedy_rms = step_logits.pow(2).mean(-1).sqrt().tolist()
                gen_out = gen_out.sequences
            last = logits[-1].cpu().contiguous()
            last.numpy().astype("<f4").tofile(os.path.join(out, f"last_logits_{tag}_{i}.f32"))
            rows.append(dict(argmax=logits.argmax(-1).tolist(), greedy=gen_out[0, n:].tolist(),
                             greedy_top2_gap=greedy_gap, greedy_rms=greedy_rms,
                             last_logits=f"last_logits_{tag}_{i}.f32", top2_gap=gaps, rms=rmss, last=last))
            log(f"{tag} prompt {n}: argmax[-1]={rows[-1]['argmax'][-1]} greedy[:6]={rows[-1]['greedy'][:6]} "
                f"logit rms {rmss[-1]:.3f} min top-2 gap {min(gaps):.4f}")
        return rows

    bf16 = run(model, "bf16")
    del model
    torch.cuda.empty_cache()
    model = Qwen2ForCausalLM.from_pretrained(out, dtype=torch.float32, device_map="cuda").eval()  # same weights, upcast
    assert model.model.rotary_emb.inv_freq.dtype == torch.float32
    f32 = run(model, "f32")
    prompts = []
    for i, ids in enumerate(prompt_ids):
        a, b = bf16[i], f32[i]
        rel = float((a["last"] - b["last"]).norm() / b["last"].norm())
        agree = sum(x == y for x, y in zip(a["argmax"], b["argmax"])) / len(ids)
        same = next((j for j, (x, y) in enumerate(zip(a["greedy"], b["greedy"])) if x != y), NEW_TOKENS)
        log(f"transformers bf16 vs f32, prompt {len(ids)}: last relL2 {rel:.3e}, top-1 agreement {agree:.4f}, "
            f"greedy identical for {same} tokens")
        for r in (a, b):
            del r["last"]
        prompts.append(dict(ids=ids, bf16=a, f32=b, bf16_vs_f32_last_rel_l2=rel, bf16_vs_f32_top1=agree,
                            bf16_vs_f32_greedy_same=same))
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(dict(transformers=__import__("transformers").__version__, torch=torch.__version__,
                       new_tokens=NEW_TOKENS, prompts=prompts), f)
    log("done")


if __name__ == "__main__":
    main()
