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

lm_head also carries a "next-token" component so the output distribution is peaked like a trained
LM's: row pi(s) of lm_head gets beta * embed[s] for a fixed random permutation pi, so a hidden state
that still carries its input token s (the residual stream keeps the embedding) scores pi(s) well above
the rest. Why not just scale lm_head or the final norm: with purely random rows the top-1 - top-2 gap
is the spacing of the two largest of 152k Gaussians (a few tenths of a logit here), and a scale multiplies
that gap and every float error in the logits alike, so the share of positions decided by rounding
(transformers' own bf16 vs f32 top-1: ~92%) does not move. A trained model's top-1 instead leads by
several logits because the hidden state points at its row; the permutation component reproduces that.
beta is calibrated here on separate random prompts so the median top-2 gap is TARGET_MEDIAN_GAP
logits; the reference runs print the median and 5th-percentile gaps they actually see.

Besides the bf16 run (the model as shipped), the same weights are run upcast to float32: the more
exact oracle. reference.json records both, and how far transformers' bf16 is from its float32.

usage: python3 make_7b_reference.py OUT_DIR [CONFIG_JSON]
With CHECKPOINT_ONLY=1 it stops once the checkpoint is written (no reference runs).
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
TARGET_MEDIAN_GAP = 4.0  # logits: a trained 7B LM's top-1 typically leads its runner-up by a few logits
CALIBRATION_LENGTHS = [256, 256, 256, 256]


def log(*a):
    print("[7b]", *a, flush=True)


def gap_stats(logits):
    """Top-1 minus top-2 logit over rows: (median, 5th percentile)."""
    top2 = torch.topk(logits.float(), 2, dim=-1).values
    gaps = top2[:, 0] - top2[:, 1]
    return float(gaps.median()), float(torch.quantile(gaps, 0.05))


def add_next_token_component(model, cj, g):
    """lm_head[pi(s)] += beta * embed[s], beta chosen so the median top-2 gap is TARGET_MEDIAN_GAP.

    The component only peaks the output if the final hidden state still carries its input token's
    embedding; where the layers bury it (the designed token wins at under 90% of the calibration
    positions), the embedding is scaled up by 2 and the calibration repeated, at most 3 times.
    """
    t0 = time.time()
    vocab = cj["vocab_size"]
    cal = torch.Generator().manual_seed(SEED + 1)  # not the test prompts' generator
    ids = [torch.randint(3, vocab - 1000, (n,), generator=cal) for n in CALIBRATION_LENGTHS]
    tokens = torch.cat(ids).cuda()
    perm = torch.randperm(vocab, generator=g, device="cuda")
    lm = model.lm_head.weight
    emb = model.model.embed_tokens.weight
    with torch.no_grad():
        for attempt in range(4):
            # Final hidden states after the final norm (what lm_head sees), [rows][hidden] f32.
            hid = torch.cat([model.model(input_ids=x[None].cuda()).last_hidden_state[0] for x in ids]).float()
            base = hid @ lm.float().T  # [rows][vocab]
            struct = torch.empty_like(base)
            struct[:, perm] = hid @ emb.float().T  # token pi(s) scores the hidden state against embed[s]
            cos = torch.nn.functional.cosine_similarity(hid, emb[tokens].float(), dim=-1)
            bm, bp = gap_stats(base)
            log(f"calibration {attempt}: {hid.shape[0]} positions, cos(final hidden, own input embedding) median "
                f"{float(cos.median()):.3f}; random lm_head alone: top-2 gap median {bm:.3f} p5 {bp:.3f} logits")
            lo, hi = 0.0, 1.0
            while gap_stats(base + hi * struct)[0] < TARGET_MEDIAN_GAP:
                hi *= 2
                assert hi < 1e6, "the next-token component cannot reach the target gap"
            for _ in range(30):
                mid = (lo + hi) / 2
                if gap_stats(base + mid * struct)[0] < TARGET_MEDIAN_GAP:
                    lo = mid
                else:
                    hi = mid
            beta = hi
            logits = base + beta * struct
            med, p5 = gap_stats(logits)
            designed = float((logits.argmax(-1) == perm[tokens]).float().mean())
            del base, struct, logits
            log(f"calibration {attempt}: beta {beta:.4f}: gap median {med:.3f} p5 {p5:.3f} logits, "
                f"designed token on top at {designed:.3f} of positions")
            if designed >= 0.9 or attempt == 3:
                break
            emb.mul_(2)
            log("calibration: the hidden state does not carry its token enough; embedding scaled by 2")
        lm[perm] = (lm[perm].float() + beta * emb.float()).to(lm.dtype)
    log(f"next-token component added in {time.time() - t0:.1f}s")


def build_random_model(cj):
    """The random bf16 Qwen2ForCausalLM on the GPU, initialised as the module docstring says (also used by
    tools/gpu/make_7b_server_checkpoint.py, so both checkpoints are the same network)."""
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
    add_next_token_component(model, cj, g)
    return model


def main():
    out = sys.argv[1]
    cfg_path = sys.argv[2] if len(sys.argv) > 2 else "src/main/resources/qwen2.5/config.json"
    with open(cfg_path) as f:
        cj = json.load(f)
    assert cj["hidden_size"] == 3584 and cj["num_hidden_layers"] == 28, "expected the Qwen2.5-7B config"
    os.makedirs(out, exist_ok=True)
    model = build_random_model(cj)

    t0 = time.time()
    model.save_pretrained(out, max_shard_size="4GB")
    shutil.copyfile(cfg_path, os.path.join(out, "config.json"))  # the real file, not transformers' rewrite
    size = sum(os.path.getsize(os.path.join(out, x)) for x in os.listdir(out))
    log(f"saved {size / 1e9:.2f} GB in {time.time() - t0:.1f}s to {out}")
    if os.environ.get("CHECKPOINT_ONLY") == "1":
        return  # the weights alone, for a benchmark that needs no reference

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
        all_gaps = []
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
            med, p5 = gap_stats(logits)
            log(f"{tag} prompt {n}: argmax[-1]={rows[-1]['argmax'][-1]} greedy[:6]={rows[-1]['greedy'][:6]} "
                f"logit rms {rmss[-1]:.3f} top-2 gap median {med:.3f} p5 {p5:.3f} min {min(gaps):.4f} logits")
            all_gaps.extend(gaps)
        g_all = torch.tensor(all_gaps)
        log(f"{tag}: top-2 gap over all {len(all_gaps)} prompt positions: median {float(g_all.median()):.3f}, "
            f"5th percentile {float(torch.quantile(g_all, 0.05)):.3f}, min {float(g_all.min()):.4f} logits")
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
