"""Converts pytorch-fid's Inception weights to safetensors for `wwae eval --features inception`.

pytorch-fid downloads them from
https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth
(a plain state dict with torchvision Inception3 names, FID blocks included). Then:

    python3 convert_inception.py pt_inception-2015-12-05-6726825d.pth pt_inception.safetensors
    wwae eval --features inception --inception-weights pt_inception.safetensors --runs runs/ --out fd-inception.json
"""
import sys
import torch
from safetensors.torch import save_file

src, dst = sys.argv[1], sys.argv[2]
state = torch.load(src, map_location="cpu", weights_only=True)
state = {k: v.float().contiguous() if v.is_floating_point() else v.contiguous() for k, v in state.items()}
save_file(state, dst)
print(f"wrote {dst}: {len(state)} tensors")
