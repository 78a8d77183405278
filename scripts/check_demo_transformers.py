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
# Plain greedy loop over full forwards (generate() would stop at or suppress the end-of-text id 0).
ids = list(prompt)
with torch.no_grad():
    for _ in expected:
        ids.append(int(model(torch.tensor([ids])).logits[0, -1].argmax()))
got = ids[len(prompt):]
print(json.dumps({"model_class": type(model).__name__, "parameters": sum(p.numel() for p in model.parameters()),
                  "transformers_ids": got, "expertflow_ids": expected, "identical": got == expected,
                  "seconds": round(time.time() - started, 1)}))
sys.exit(0 if got == expected else 1)
