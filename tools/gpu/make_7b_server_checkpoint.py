#!/usr/bin/env python3
"""Lays out a random Qwen2.5-7B checkpoint as the real Qwen2.5-7B-Instruct is published, for the whole server.

The server stage of run-gpu-checks.sh starts the real app on it: four shards
model-0000N-of-00004.safetensors with model.safetensors.index.json (weight_map and metadata.total_size),
and the real config.json, generation_config.json, tokenizer.json and tokenizer_config.json. The weights
are the random network of tools/reference/make_7b_reference.py (build_random_model): taken from the
checkpoint its 7b stage saved (SOURCE_DIR, re-sharded here or linked where it already has four shards),
else built the same way on the GPU. Only the layout is the real one; the text it generates is noise.

usage: python3 make_7b_server_checkpoint.py OUT_DIR FILES_DIR [SOURCE_DIR]
  FILES_DIR holds config.json, generation_config.json, tokenizer_config.json and tokenizer.json
  (or tokenizer.json.gz, as src/main/resources/qwen2.5/ does).
"""
import contextlib
import gzip
import json
import os
import re
import shutil
import struct
import sys
import time

import torch
from safetensors import safe_open
from safetensors.torch import save_file

SHARDS = 4
INDEX = "model.safetensors.index.json"


def log(*a):
    print("[7b-server]", *a, flush=True)


def shard_name(i):
    return f"model-{i + 1:05d}-of-{SHARDS:05d}.safetensors"


def order(name):
    """The published checkpoint's order: embeddings, layers by number, final norm, lm_head."""
    m = re.search(r"\.layers\.(\d+)\.", name)
    if m:
        return 1, int(m.group(1)), name
    if "embed_tokens" in name:
        return 0, 0, name
    return (3 if name.startswith("lm_head") else 2), 0, name


def plan(sizes):
    """Tensor names per shard, in order, each shard near a quarter of the bytes (never splitting a tensor)."""
    names = sorted(sizes, key=order)
    target = sum(sizes.values()) / SHARDS
    shards, filled = [[]], 0
    for n in names:
        if shards[-1] and filled + sizes[n] > target * 1.02 and len(shards) < SHARDS:
            shards.append([])
            filled = 0
        shards[-1].append(n)
        filled += sizes[n]
    assert len(shards) == SHARDS, f"{len(shards)} shards planned, want {SHARDS}"
    return shards


def write(out, sizes, fetch):
    """Writes the shards one at a time (fetch(name) gives a tensor) and the index."""
    weight_map = {}
    for i, names in enumerate(plan(sizes)):
        t0 = time.time()
        tensors = {n: fetch(n).detach().to("cpu").contiguous() for n in names}
        save_file(tensors, os.path.join(out, shard_name(i)), metadata={"format": "pt"})
        weight_map.update({n: shard_name(i) for n in names})
        log(f"{shard_name(i)}: {len(names)} tensors, {sum(sizes[n] for n in names) / 1e9:.2f} GB "
            f"in {time.time() - t0:.1f}s")
        del tensors
    with open(os.path.join(out, INDEX), "w") as f:
        json.dump({"metadata": {"total_size": sum(sizes.values())}, "weight_map": weight_map}, f, indent=2)


def source_files(src):
    if not src or not os.path.isdir(src):
        return []
    return sorted(x for x in os.listdir(src) if x.endswith(".safetensors"))


def from_source(out, src, files):
    if files == [shard_name(i) for i in range(SHARDS)] and os.path.exists(os.path.join(src, INDEX)):
        # Already the published layout (transformers' 4 GB shards of 15.2 GB): link, do not copy 15 GB.
        for x in files + [INDEX]:
            os.symlink(os.path.join(os.path.abspath(src), x), os.path.join(out, x))
        log(f"linked the {SHARDS} shards of {src}")
        return
    where, sizes = {}, {}
    for x in files:
        for n, nbytes in header_sizes(os.path.join(src, x)).items():
            where[n], sizes[n] = x, nbytes
    log(f"re-sharding {len(sizes)} tensors from {len(files)} files of {src}")
    with contextlib.ExitStack() as stack:
        handles = {x: stack.enter_context(safe_open(os.path.join(src, x), framework="pt", device="cpu"))
                   for x in files}
        write(out, sizes, lambda n: handles[where[n]].get_tensor(n))


def header_sizes(path):
    """Tensor name -> bytes, from the file's own header (8-byte little-endian length, then JSON)."""
    with open(path, "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    return {n: t["data_offsets"][1] - t["data_offsets"][0] for n, t in header.items() if n != "__metadata__"}


def from_scratch(out, cj):
    sys.path[:0] = [os.path.dirname(os.path.abspath(__file__)),
                    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference")]
    from make_7b_reference import build_random_model
    model = build_random_model(cj)
    # rotary inv_freq is a buffer transformers recomputes; the checkpoint holds parameters only.
    params = dict(model.named_parameters())
    write(out, {n: p.numel() * p.element_size() for n, p in params.items()}, params.__getitem__)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, files_dir = sys.argv[1], sys.argv[2]
    src = sys.argv[3] if len(sys.argv) > 3 else None
    names = [shard_name(i) for i in range(SHARDS)] + [INDEX, "config.json", "generation_config.json",
                                                      "tokenizer.json", "tokenizer_config.json"]
    if all(os.path.exists(os.path.join(out, x)) for x in names):
        log(f"{out} is complete already")
        return
    t0 = time.time()
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    with open(os.path.join(files_dir, "config.json")) as f:
        cj = json.load(f)
    assert cj["hidden_size"] == 3584 and cj["num_hidden_layers"] == 28, "expected the Qwen2.5-7B config"
    files = source_files(src)
    if files:
        from_source(out, src, files)
    else:
        log(f"no checkpoint in {src}: building the random 7B")
        from_scratch(out, cj)
    for x in ["config.json", "generation_config.json", "tokenizer_config.json"]:
        shutil.copyfile(os.path.join(files_dir, x), os.path.join(out, x))
    tok = os.path.join(files_dir, "tokenizer.json")
    if os.path.exists(tok):
        shutil.copyfile(tok, os.path.join(out, "tokenizer.json"))
    else:
        with gzip.open(tok + ".gz", "rb") as f, open(os.path.join(out, "tokenizer.json"), "wb") as g:
            shutil.copyfileobj(f, g)
    log(f"{out} ready in {time.time() - t0:.1f}s: {sorted(os.listdir(out))}")


if __name__ == "__main__":
    main()
