"""Reference for the TorchSharp Inception-v3 port (src/Wwae/Evaluation/InceptionV3.cs).

Builds pytorch-fid's FID Inception-v3 (torchvision's Inception3 with pytorch-fid's FIDInceptionA/C/E_1/E_2
blocks, as in pytorch_fid/inception.py) with seeded RANDOM weights (no download), randomises the batch-norm
running statistics so that they matter, and writes
  weights.safetensors  the state dict (torchvision names, as pytorch-fid's pt_inception weights), and
  check.safetensors    'images' (N x 3 x H x W in [0, 1]) and 'features' (N x 2048 pool3, computed on the CPU in float64).
`wwae inception-check --weights weights.safetensors --check check.safetensors` then compares the port.

    python3 inception_reference.py OUT_DIR
"""
import sys, os
import torch
import torch.nn.functional as F
from torchvision.models import inception as tv
from safetensors.torch import save_file


class FIDInceptionA(tv.InceptionA):
    def forward(self, x):
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False))
        return torch.cat([b1, b5, bd, bp], 1)


class FIDInceptionC(tv.InceptionC):
    def forward(self, x):
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        bd = self.branch7x7dbl_5(self.branch7x7dbl_4(self.branch7x7dbl_3(self.branch7x7dbl_2(bd))))
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False))
        return torch.cat([b1, b7, bd, bp], 1)


class FIDInceptionE_1(tv.InceptionE):
    pool = "avg"

    def forward(self, x):
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        if self.pool == "avg":
            p = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
        else:
            p = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        return torch.cat([b1, b3, bd, self.branch_pool(p)], 1)


class FIDInceptionE_2(FIDInceptionE_1):
    pool = "max"


def fid_inception_v3():
    net = tv.Inception3(num_classes=1008, aux_logits=False, init_weights=True)
    net.Mixed_5b = FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = FIDInceptionE_1(1280)
    net.Mixed_7c = FIDInceptionE_2(2048)
    return net


def pool3(net, x):
    """pytorch-fid's InceptionV3 forward up to the 2048-d pool3 (resize_input=True, normalize_input=True)."""
    x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    x = 2 * x - 1
    for name in ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3"]:
        x = getattr(net, name)(x)
    x = F.max_pool2d(x, kernel_size=3, stride=2)
    x = net.Conv2d_3b_1x1(x)
    x = net.Conv2d_4a_3x3(x)
    x = F.max_pool2d(x, kernel_size=3, stride=2)
    for name in ["Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"]:
        x = getattr(net, name)(x)
    return F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)


if __name__ == "__main__":
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(1234)
    net = fid_inception_v3().eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(state, os.path.join(out, "weights.safetensors"))
    images = torch.rand(6, 3, 64, 64)
    images[4:] = images[4:, :1].expand(2, 3, 64, 64)  # two grey images, as Fashion-MNIST is fed
    with torch.no_grad():
        features = pool3(net.double(), images.double()).float()
    save_file({"images": images.contiguous(), "features": features.contiguous()}, os.path.join(out, "check.safetensors"))
    print(f"wrote {out}/weights.safetensors ({len(state)} tensors) and check.safetensors; feature norm {features.norm(dim=1).tolist()}")
