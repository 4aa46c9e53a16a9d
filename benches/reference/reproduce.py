"""Does PyTorch reproduce a plateau model? Loads a run's `model.safetensors` into its PyTorch twin
(torch_models.py, built from the run's `config.json`), runs it on the images `plateau logits`
exported, and compares logits and test accuracy.

    plateau logits RUN_DIR --out logits.safetensors
    /usr/bin/python3 benches/reference/reproduce.py RUN_DIR logits.safetensors

Prints one JSON line: the largest absolute and relative logit differences, the twin's accuracy,
plateau's and the one the run recorded; exits 1 when the logits differ by more than 1e-4
(relative) and 1e-5 (absolute) or the accuracies differ.

How plateau's tensor names map to PyTorch's (burn's module names, as safetensors stores them):
- norms keep `gamma`/`beta` where PyTorch has `weight`/`bias`;
- burn's linear weights are `[in, out]`, PyTorch's `[out, in]`: transposed;
- ResNet blocks sit in `stages.S.blocks.B` (PyTorch: one flat `blocks.N`), and its stem and
  shortcut are sub-modules (`stem.conv`, `shortcut.norm`) where the twin has `stem_conv`,
  `shortcut_norm`.
"""

import json
import re
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch_models  # noqa: E402

RELATIVE, ABSOLUTE = 1e-4, 1e-5

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "I32": torch.int32}


def load_file(path):
    """A safetensors file's tensors. The format is an 8-byte header length, a JSON header and the
    raw little-endian data; Debian's Python has PyTorch but not the safetensors package."""
    raw = Path(path).read_bytes()
    length = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + length])
    data = raw[8 + length :]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        flat = torch.frombuffer(bytearray(data[start:end]), dtype=DTYPES[info["dtype"]])
        tensors[name] = flat.reshape(info["shape"])
    return tensors


def torch_name(name, stage_offsets):
    """The twin's state_dict key for plateau's tensor `name`."""
    name = re.sub(r"\.gamma$", ".weight", name)
    name = re.sub(r"\.beta$", ".bias", name)
    match = re.match(r"stages\.(\d+)\.blocks\.(\d+)\.(.*)", name)
    if match:
        stage, block, rest = int(match[1]), int(match[2]), match[3]
        name = f"blocks.{stage_offsets[stage] + block}.{rest}"
    for nested in ("stem.conv", "stem.norm", "shortcut.conv", "shortcut.norm"):
        name = name.replace(nested, nested.replace(".", "_"))
    return name


def load_weights(model, weights, config):
    depths = config.get("stage_depths", [])
    offsets = [sum(depths[:i]) for i in range(len(depths))]
    state = model.state_dict()
    loaded = {}
    for name, tensor in weights.items():
        key = torch_name(name, offsets)
        if key not in state:
            raise KeyError(f"{name} (as {key}) has no place in the PyTorch twin")
        target = state[key]
        if tensor.dim() == 2 and name.endswith(".weight"):
            tensor = tensor.t()  # burn's Linear stores [in, out], square ones too
        if tensor.shape != target.shape:
            raise ValueError(f"{name}: shape {list(tensor.shape)}, twin has {list(target.shape)}")
        loaded[key] = tensor
    missing = [k for k in state if k not in loaded and not k.endswith("num_batches_tracked")]
    if missing:
        raise KeyError(f"the twin's {missing} got no weights from plateau")
    model.load_state_dict(loaded, strict=False)


def main():
    run_dir, exported = Path(sys.argv[1]), sys.argv[2]
    spec = json.loads((run_dir / "config.json").read_text())
    model = torch_models.build(spec["model"], spec["input"])
    load_weights(model, load_file(str(run_dir / "model.safetensors")), spec["model"])
    model.eval()
    data = load_file(exported)
    with torch.no_grad():
        logits = model(data["images"])
    reference = data["logits"]
    difference = (logits - reference).abs()
    relative = difference / reference.abs().clamp_min(1e-12)
    # A logit matches when it is within the relative or the absolute tolerance.
    mismatched = ((difference > ABSOLUTE) & (relative > RELATIVE)).sum().item()
    twin_accuracy = (logits.argmax(1) == data["labels"]).double().mean().item()
    plateau_accuracy = (reference.argmax(1) == data["labels"]).double().mean().item()
    summary_path = run_dir / "summary.json"
    recorded = None
    if summary_path.is_file():
        upstream = json.loads(summary_path.read_text()).get("upstream") or {}
        recorded = upstream.get("test_accuracy")
    report = {
        "family": spec["model"]["family"],
        "images": int(logits.shape[0]),
        "max_abs_diff": difference.max().item(),
        "max_rel_diff": relative.max().item(),
        "mismatched_logits": mismatched,
        "twin_accuracy": twin_accuracy,
        "plateau_accuracy": plateau_accuracy,
        "recorded_accuracy": recorded,
    }
    print(json.dumps(report))
    same_accuracy = twin_accuracy == plateau_accuracy and (
        recorded is None or abs(recorded - twin_accuracy) < 1e-12
    )
    sys.exit(0 if mismatched == 0 and same_accuracy else 1)


if __name__ == "__main__":
    main()
