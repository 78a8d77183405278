"""Hugging Face accelerate's offloading baseline for `expertflow bench` (same model folder, same budget).

transformers' from_pretrained(device_map="auto", max_memory={0: BUDGET, "cpu": ...}) is accelerate's
infer_auto_device_map + dispatch_model: layers that do not fit in the GPU budget stay in CPU memory and
are moved to the GPU by hooks at every forward. Greedy generation of random prompts; prints one JSON
line per batch size and writes them to --out.

    python3 accelerate_offload.py --model DIR --memory 4GiB --batch 1 16 --prompt-tokens 32 --new-tokens 4 --out FILE
"""
import argparse, json, time, sys

import torch
from transformers import AutoModelForCausalLM


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--memory", default="4GiB")
    p.add_argument("--batch", type=int, nargs="+", default=[1, 16])
    p.add_argument("--prompt-tokens", type=int, default=32)
    p.add_argument("--new-tokens", type=int, default=4)
    p.add_argument("--out", required=True)
    a = p.parse_args()

    t0 = time.time()
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.bfloat16, device_map="auto",
                                                 max_memory={0: a.memory, "cpu": "200GiB"})
    model.eval()
    load_s = time.time() - t0
    placement = {}
    for name, dev in getattr(model, "hf_device_map", {}).items():
        placement[str(dev)] = placement.get(str(dev), 0) + 1
    results = []
    g = torch.Generator().manual_seed(1)
    for batch in a.batch:
        ids = torch.randint(0, model.config.vocab_size, (batch, a.prompt_tokens), generator=g).to("cuda:0")
        torch.cuda.reset_peak_memory_stats()
        with torch.no_grad():
            torch.cuda.synchronize(); t = time.time()
            model.generate(ids, max_new_tokens=1, min_new_tokens=1, do_sample=False)
            torch.cuda.synchronize(); prefill = time.time() - t
            t = time.time()
            out = model.generate(ids, max_new_tokens=a.new_tokens, min_new_tokens=a.new_tokens, do_sample=False)
            torch.cuda.synchronize(); total = time.time() - t
        decode = max(total - prefill, 1e-9)
        r = {"system": "hf-accelerate", "memory": a.memory, "batch": batch, "new_tokens": a.new_tokens,
             "prefill_s": prefill, "total_s": total,
             "decode_tokens_per_s": batch * (a.new_tokens - 1) / decode,
             "tokens_per_s": batch * a.new_tokens / total,
             "peak_allocated_bytes": torch.cuda.max_memory_allocated(), "load_s": load_s,
             "placement_modules": placement, "torch": torch.__version__}
        print(json.dumps(r), flush=True)
        results.append(r)
        with open(a.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
