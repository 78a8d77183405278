"""Loads the demo MoE with Hugging Face transformers and checks that its greedy continuation matches
ExpertFlow's runtime (ids given on the command line, from `expertflow generate --json --greedy`).

    python3 scripts/check_demo_transformers.py MODEL_DIR PROMPT_IDS EXPECTED_IDS
    (ids comma-separated)
"""
import sys, json, time
import torch
from transformers import AutoModelForCausalLM

folder, prompt, expected = sys.argv[1], [int(x) for x in sys.argv[2].split(",")], [int(x) for x in sys.argv[3].split(",")]
started = time.time()
model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
with torch.no_grad():
    out = model.generate(torch.tensor([prompt]), max_new_tokens=len(expected), do_sample=False, min_new_tokens=len(expected))
got = out[0, len(prompt):].tolist()
print(json.dumps({"model_class": type(model).__name__, "parameters": sum(p.numel() for p in model.parameters()),
                  "transformers_ids": got, "expertflow_ids": expected, "identical": got == expected,
                  "seconds": round(time.time() - started, 1)}))
sys.exit(0 if got == expected else 1)
