#!/usr/bin/env python3
"""Peer measurement for `expertflow bench-runtime`: Hugging Face transformers on a Qwen1.5-MoE-A2.7B-shaped model
(24 layers, hidden 2048, 60 experts of 1408 top-4 + shared 5632, vocab 151936) with random bf16 weights made on the
GPU (no download), all resident. Same protocol as the .NET side: random prompts of PROMPT tokens, one warm-up
generate, then greedy generate of NEW tokens; decode tokens/s = batch*(NEW-1)/(generate time - prefill time),
overall tokens/s = batch*NEW/generate time.

  python3 bench/expertflow/runtime_transformers_peer.py OUT.json [--batch 1,16] [--prompt 32] [--new 32] [--layers 24]
"""
import json, sys, time
import torch
import transformers
from transformers import Qwen2MoeConfig, Qwen2MoeForCausalLM


def arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def main():
    out = sys.argv[1]
    batches = [int(b) for b in arg("--batch", "1,16").split(",")]
    prompt, new, layers = int(arg("--prompt", 32)), int(arg("--new", 32)), int(arg("--layers", 24))
    kw = dict(vocab_size=151936, hidden_size=2048, intermediate_size=5632, moe_intermediate_size=1408,
              shared_expert_intermediate_size=5632, num_hidden_layers=layers, num_attention_heads=16, num_key_value_heads=16,
              num_experts=60, num_experts_per_tok=4, norm_topk_prob=False, max_position_embeddings=8192,
              decoder_sparse_step=1, mlp_only_layers=[], tie_word_embeddings=False, use_sliding_window=False)
    try:
        cfg = Qwen2MoeConfig(rope_theta=1000000.0, **kw)
    except Exception:
        cfg = Qwen2MoeConfig(rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}, **kw)
    torch.manual_seed(0)
    t0 = time.time()
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = Qwen2MoeForCausalLM(cfg)
    torch.set_default_dtype(torch.float32)
    model.eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.fill_(1.0)
            else:
                p.normal_(0.0, 0.02)
    torch.cuda.synchronize()
    build = time.time() - t0
    params = sum(p.numel() for p in model.parameters())
    info = {"transformers": transformers.__version__, "torch": torch.__version__, "params": params, "build_seconds": build,
            "attn_implementation": getattr(model.config, "_attn_implementation", None),
            "experts_implementation": getattr(model.config, "_experts_implementation", None), "results": []}
    print(f"built {params/1e9:.2f}B params in {build:.1f} s; attn={info['attn_implementation']} experts={info['experts_implementation']}", flush=True)
    g = torch.Generator(device="cpu").manual_seed(7)
    for b in batches:
        ids = torch.randint(0, cfg.vocab_size, (b, prompt), generator=g).cuda()
        mask = torch.ones_like(ids)
        kwargs = dict(attention_mask=mask, do_sample=False, pad_token_id=0)
        with torch.no_grad():
            model.generate(ids, max_new_tokens=4, min_new_tokens=4, **kwargs)
            torch.cuda.synchronize()
            t = time.time()
            model(input_ids=ids, attention_mask=mask)
            torch.cuda.synchronize()
            prefill = time.time() - t
            torch.cuda.reset_peak_memory_stats()
            t = time.time()
            outp = model.generate(ids, max_new_tokens=new, min_new_tokens=new, **kwargs)
            torch.cuda.synchronize()
            total = time.time() - t
        assert outp.shape[1] == prompt + new
        r = {"batch": b, "prefill_seconds": prefill, "generate_seconds": total,
             "decode_tokens_per_second": b * (new - 1) / max(total - prefill, 1e-9), "tokens_per_second": b * new / total,
             "max_memory_allocated": torch.cuda.max_memory_allocated(), "max_memory_reserved": torch.cuda.max_memory_reserved()}
        info["results"].append(r)
        print(f"batch {b}: decode {r['decode_tokens_per_second']:.1f} tok/s, overall {r['tokens_per_second']:.1f} tok/s, "
              f"reserved {r['max_memory_reserved']/2**30:.1f} GiB", flush=True)
    with open(out, "w") as f:
        json.dump(info, f, indent=2)


if __name__ == "__main__":
    main()
