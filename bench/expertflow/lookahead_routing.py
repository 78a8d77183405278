"""How well does layer l+1's router, applied to layer l's MoE input, predict layer l+1's experts?

Measures the accuracy the look-ahead guess (`--policy NAME+lookahead`) has on the offloading bench's random-weight
Qwen1.5-MoE-A2.7B shape, with Hugging Face transformers on a CUDA GPU. Weights are drawn as SyntheticMoe draws them
(uniform in [-s, s]: 0.02 for projections and embeddings, 0.5 for routers, norms 1), not the same values. Prints
recall of the true top-4 among the look-ahead top-k (k = 4 and 8) per layer, and the chance level k/60.

    python3 bench/expertflow/lookahead_routing.py [OUT.json]
"""
import json, sys, torch
from transformers import Qwen2MoeConfig, Qwen2MoeForCausalLM

cfg = Qwen2MoeConfig(vocab_size=151936, hidden_size=2048, intermediate_size=5632, num_hidden_layers=24,
                     num_attention_heads=16, num_key_value_heads=16, num_experts=60, num_experts_per_tok=4,
                     moe_intermediate_size=1408, shared_expert_intermediate_size=5632, norm_topk_prob=False,
                     max_position_embeddings=8192, rope_theta=1e6)
torch.manual_seed(0)
torch.set_default_dtype(torch.bfloat16)
with torch.device("cuda"):
    model = Qwen2MoeForCausalLM(cfg)
with torch.no_grad():
    for name, p in model.named_parameters():
        if "norm" in name: p.fill_(1.0)
        elif name.endswith("mlp.gate.weight"): p.uniform_(-0.5, 0.5)
        else: p.uniform_(-0.02, 0.02)
model.eval()
mids = {}
hooks = [layer.post_attention_layernorm.register_forward_hook(lambda m, a, o, i=i: mids.__setitem__(i, a[0].detach()))
         for i, layer in enumerate(model.model.layers)]
route = lambda layer, h: torch.nn.functional.linear(layer.post_attention_layernorm(h), layer.mlp.gate.weight).reshape(-1, cfg.num_experts).float()
ids = torch.randint(0, cfg.vocab_size, (8, 64), device="cuda")
with torch.no_grad():
    model(ids)
for h in hooks: h.remove()   # the analysis below calls the norms again
out = {"layers": []}
for l in range(cfg.num_hidden_layers - 1):
    nxt = model.model.layers[l + 1]
    with torch.no_grad():
        ahead, true = route(nxt, mids[l]), route(nxt, mids[l + 1]).topk(4, -1).indices
    row = {"layer": l + 1}
    for k in (4, 8):
        pred = ahead.topk(k, -1).indices
        hit = (pred.unsqueeze(-1) == true.unsqueeze(-2)).any(-2).float().sum(-1) / 4
        row[f"recall_top{k}"] = round(hit.mean().item(), 3)
    cos = torch.nn.functional.cosine_similarity(mids[l].reshape(-1, 2048).float(), mids[l + 1].reshape(-1, 2048).float(), -1).mean().item()
    row["cos_moe_inputs"] = round(cos, 3)
    out["layers"].append(row)
for k in (4, 8):
    out[f"mean_recall_top{k}"] = round(sum(r[f"recall_top{k}"] for r in out["layers"]) / len(out["layers"]), 3)
    out[f"chance_top{k}"] = round(k / cfg.num_experts, 3)
print(json.dumps(out, indent=1))
if len(sys.argv) > 1: json.dump(out, open(sys.argv[1], "w"), indent=1)
