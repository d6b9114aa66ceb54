#!/usr/bin/python3
"""Convert a PyTorch checkpoint (.pth / .pt / .tar holding a state_dict) to safetensors.

    /usr/bin/python3 scripts/pth_to_safetensors.py resnet50.pth resnet50.safetensors

Accepts a bare state_dict or one nested under "state_dict" / "model" / "model_state_dict"
(as in Places365 and many training scripts); strips a "module." prefix left by DataParallel.
Floating tensors are written as float32 (or kept with --keep-dtype), integer buffers such as
num_batches_tracked as int64. --arch writes the architecture into the metadata, which smile
then uses (and refuses a contradicting --arch for): the Places365 ResNet-50 of the indoor67
preset is

    /usr/bin/python3 scripts/pth_to_safetensors.py resnet50_places365.pth.tar places365.safetensors --arch resnet50

and the SMILE authors' efficientnet_pytorch B4 needs none (its tensor names say efficientnet-b4).
Needs Debian's PyTorch (python3-torch) but not the safetensors package."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smile_safetensors  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source")
    p.add_argument("destination")
    p.add_argument("--keep-dtype", action="store_true", help="keep float16/float64 instead of converting to float32")
    p.add_argument("--strip-prefix", default="module.", help="prefix removed from every key (default: module.)")
    p.add_argument("--arch", help="architecture written into the metadata (smile's name: resnet50, efficientnet-b4, ...)")
    a = p.parse_args()
    import torch

    obj = torch.load(a.source, map_location="cpu")
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        sys.exit(f"{a.source}: does not contain a state_dict (got {type(obj).__name__})")
    tensors = {}
    for name, value in obj.items():
        if not torch.is_tensor(value):
            continue
        if a.strip_prefix and name.startswith(a.strip_prefix):
            name = name[len(a.strip_prefix):]
        value = value.detach().cpu().contiguous()
        if value.is_floating_point():
            if value.dtype == torch.bfloat16:
                tensors[name] = (value.view(torch.int16).numpy().view("uint16"), "BF16")
                continue
            if not a.keep_dtype:
                value = value.float()
        elif value.dtype != torch.int64:
            value = value.long()
        tensors[name] = value.numpy()
    if not tensors:
        sys.exit(f"{a.source}: no tensors found")
    metadata = {"format": "pt", "converted_from": os.path.basename(a.source)}
    if a.arch:
        metadata["arch"] = a.arch
    smile_safetensors.write(a.destination, tensors, metadata)
    print(f"wrote {len(tensors)} tensors to {a.destination}")


if __name__ == "__main__":
    main()
