#!/usr/bin/env python3
"""Runs the seed's PyTorch code (../shared/tools/seed_reference.py) on a torch device (CUDA),
unchanged but for where its tensors live: the network and both images are moved to the
device, and the timer waits for the device before it stops. The script is read and patched
at run time (nothing of it is kept here); every patch must apply, or this stops.

    SEED_DEVICE=cuda python3 tools/seed-on-device.py SEED_SCRIPT [seed_reference.py's options]
"""
import os
import sys

script, args = sys.argv[1], sys.argv[2:]
device = os.environ.get("SEED_DEVICE", "cuda")
source = open(script).read()
patches = [
    # after the network is built: move it to the device
    ("for q in net.parameters(): q.requires_grad_(False)\n",
     "for q in net.parameters(): q.requires_grad_(False)\nnet = net.to(DEVICE)\n"),
    # both images (and so the optimised one, a clone of the content) on the device
    ("return t(img).unsqueeze(0)", "return t(img).unsqueeze(0).to(DEVICE)"),
    # the timer stops after the device has finished
    ("dt = time.time() - t0", "_sync()\ndt = time.time() - t0"),
]
for old, new in patches:
    if source.count(old) != 1:
        sys.exit(f"seed-on-device: {script} no longer contains {old!r} exactly once; update the patches")
    source = source.replace(old, new)

import torch  # noqa: E402

if device.startswith("cuda") and not torch.cuda.is_available():
    sys.exit("seed-on-device: torch has no CUDA device here")
prelude = {
    "DEVICE": torch.device(device),
    "_sync": (lambda: torch.cuda.synchronize()) if device.startswith("cuda") else (lambda: None),
    "__name__": "__main__",
}
sys.argv = [script] + args
exec(compile(source, script, "exec"), prelude)
print(f"device={device}")
