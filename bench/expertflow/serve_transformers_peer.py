#!/usr/bin/env python3
"""Peer of `expertflow bench-serve`: Hugging Face transformers `generate` on the same prompts (prompts.json written by
bench-serve), as static batches of each client count: the whole batch's greedy generation of NEW tokens (min_new_tokens
= NEW, like the server's ignore_eos). Throughput = batch*NEW / generate time; time to first token = the time of a
generate of one new token for the batch (its prefill); inter-token latency = (generate time - that) / (NEW - 1).

  python3 bench/expertflow/serve_transformers_peer.py MODEL_DIR PROMPTS_JSON OUT_JSON [--clients 1,8,32,64]
"""
import json, sys, time
import torch
import transformers
from transformers import AutoModelForCausalLM


def arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def main():
    folder, prompts_path, out = sys.argv[1], sys.argv[2], sys.argv[3]
    clients = [int(c) for c in arg("--clients", "1,8,32,64").split(",")]
    spec = json.load(open(prompts_path))
    new, prompts = spec["new_tokens"], spec["prompts"]
    t0 = time.time()
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16, device_map="cuda")
    model.eval()
    load = time.time() - t0
    info = {"transformers": transformers.__version__, "torch": torch.__version__, "load_seconds": load,
            "gpu": torch.cuda.get_device_name(0), "results": []}

    def generate(batch, tokens):
        ids = torch.tensor(prompts[:batch], device="cuda")
        torch.cuda.synchronize()
        start = time.time()
        with torch.no_grad():
            model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False, pad_token_id=0)
        torch.cuda.synchronize()
        return time.time() - start

    generate(1, 4)  # warm-up
    for batch in clients:
        first = generate(batch, 1)
        total = generate(batch, new)
        row = {"clients": batch, "tokens": batch * new, "seconds": total, "tokens_per_second": batch * new / total,
               "ttft_seconds": first, "itl_seconds": (total - first) / max(1, new - 1)}
        info["results"].append(row)
        print(f"transformers batch {batch}: {row['tokens_per_second']:.1f} tok/s, TTFT {first * 1000:.0f} ms, ITL {row['itl_seconds'] * 1000:.1f} ms", flush=True)
    json.dump(info, open(out, "w"), indent=1)


if __name__ == "__main__":
    main()
