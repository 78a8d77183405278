# Pinned host-to-device copy bandwidth as PyTorch measures it on this GPU (the card's figure that the
# .NET interop is compared against). Prints the median GB/s (10^9 bytes/s) of 5 copies of 1 GiB on its
# last line.  Usage (GPU machine):  python3 h2d_reference.py
import statistics
import torch

print("torch", torch.__version__, "CUDA", torch.version.cuda, torch.cuda.get_device_name(0), torch.__file__)
n = 1 << 30
host = torch.empty(n, dtype=torch.uint8).pin_memory()
host.fill_(0x5A)
device = torch.empty(n, dtype=torch.uint8, device="cuda")
stream = torch.cuda.Stream()
times = []
with torch.cuda.stream(stream):
    for i in range(6):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record(stream)
        device.copy_(host, non_blocking=True)
        end.record(stream)
        end.synchronize()
        if i > 0:
            times.append(start.elapsed_time(end))
gbps = [n / 1e6 / ms for ms in times]
print("pytorch pinned H2D GB/s per copy:", ", ".join(f"{g:.1f}" for g in gbps))
print(f"{statistics.median(gbps):.2f}")
