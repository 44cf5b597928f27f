"""Build the GPT-NAS fine-tuning corpus: 36 hand-designed networks from torchvision, one layer-encoded line each.

    /work/venv-tv/bin/python experiments/build_finetune_corpus.py [--out gptnas/data/finetune_corpus.txt] [--check]

Needs torchvision, which does not import beside this project's main torch; it runs in a separate virtual
environment (``python -m venv /work/venv-tv && /work/venv-tv/bin/pip install torch==2.14.1 torchvision==0.29.1``).
Each network is built with ``weights=None`` under ``with torch.device("meta")`` (no weights, no download, no
compute) and traced with :func:`gptnas.encodings.layers.trace_layers` on a ``(3, 224, 224)`` input. The output is
deterministic: a rerun with the same torchvision writes the same bytes. ``--check`` compares with the existing file
instead of writing it (exit status 1 when they differ).

The 36 networks are those the GPT-NAS paper fine-tunes on: EfficientNet B0-B7, GoogLeNet, 14 RegNets, ResNet-18/34/
50/101/152, ResNeXt-50 32x4d and 101 32x8d, ShuffleNetV2 x0.5/x1.0/x1.5/x2.0, Wide-ResNet-50-2 and 101-2.
torchvision has 15 RegNets; ``regnet_y_128gf`` is left out: it is the only one without ImageNet-1K-trained weights
in torchvision (only SWAG-pretrained ones, added in 0.13; the constructor came in 0.12 with no weights at all), so
it cannot have been among the RegNets a 2023 paper took as ready-made ImageNet designs, and at ~645M parameters it is
an outlier of the family.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "gptnas" / "data" / "finetune_corpus.txt"
INPUT_SHAPE = (3, 224, 224)

NETWORKS = (
    [f"efficientnet_b{i}" for i in range(8)]
    + ["googlenet"]
    + [f"regnet_y_{s}" for s in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")]
    + [f"regnet_x_{s}" for s in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")]
    + [f"resnet{d}" for d in (18, 34, 50, 101, 152)]
    + ["resnext50_32x4d", "resnext101_32x8d"]
    + [f"shufflenet_v2_x{s}" for s in ("0_5", "1_0", "1_5", "2_0")]
    + ["wide_resnet50_2", "wide_resnet101_2"]
)
assert len(NETWORKS) == 36 and len(set(NETWORKS)) == 36

# Constructor arguments beyond weights=None. GoogLeNet: no auxiliary classifiers (they only run in training and are
# not part of the network's inference path) and no scipy-based truncated-normal init (pointless on meta tensors).
EXTRA_KWARGS = {"googlenet": {"aux_logits": False, "init_weights": False}}


def _load_layers_module():
    """``gptnas/encodings/layers.py`` loaded from its file: this environment has torchvision but not the project's
    other dependencies, so nothing of the package's ``__init__`` chain is imported."""
    path = REPO / "gptnas" / "encodings" / "layers.py"
    spec = importlib.util.spec_from_file_location("_gptnas_layers", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up in sys.modules
    spec.loader.exec_module(mod)
    return mod


@contextlib.contextmanager
def _regnet_widths_on_cpu():
    """torchvision's RegNet constructors compute their stage widths with torch tensor arithmetic
    (``BlockParams.from_init_params``: ``torch.arange`` ... ``.tolist()``), which fails under the meta device
    ("Cannot copy out of meta tensor"). Inside this context that one hyperparameter computation runs on the CPU
    (a few dozen numbers); the modules themselves are still created on the meta device."""
    import torch
    from torchvision.models import regnet

    original = regnet.BlockParams.__dict__["from_init_params"]
    func = original.__func__

    def from_init_params(cls, *args, **kwargs):
        with torch.device("cpu"):
            return func(cls, *args, **kwargs)

    regnet.BlockParams.from_init_params = classmethod(from_init_params)
    try:
        yield
    finally:
        regnet.BlockParams.from_init_params = original


def build_lines(names=NETWORKS) -> dict[str, str]:
    """name → the network's encoded line (``encode(trace_layers(model, INPUT_SHAPE))``)."""
    import torch
    import torchvision.models as tvm

    layers = _load_layers_module()
    out = {}
    with _regnet_widths_on_cpu():
        for name in names:
            with torch.device("meta"):
                model = tvm.get_model(name, weights=None, **EXTRA_KWARGS.get(name, {}))
            if any(not p.is_meta for p in model.parameters()):
                raise RuntimeError(f"{name}: parameters were allocated outside the meta device")
            out[name] = layers.encode(layers.trace_layers(model, INPUT_SHAPE))
    return out


def render(lines: dict[str, str]) -> str:
    import torchvision

    header = [
        "# GPT-NAS fine-tuning corpus: 36 hand-designed ImageNet networks from torchvision, one per line.",
        "# Format: name<TAB>layers, each layer written by gptnas.encodings.layers.Layer.text(), in execution order",
        "# (read back with gptnas.methods.gptnas.finetune_corpus.load_finetune_corpus).",
        f"# torchvision {torchvision.__version__.split('+')[0]}, input size {'x'.join(map(str, INPUT_SHAPE))} (C x H x W), "
        "built with weights=None on the meta device.",
        "# regnet_y_128gf is left out (no ImageNet-1K-trained weights in torchvision; see the script's docstring).",
        "# Generated; regenerate with: /work/venv-tv/bin/python experiments/build_finetune_corpus.py",
    ]
    return "\n".join(header + [f"{n}\t{lines[n]}" for n in lines]) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true", help="compare with --out instead of writing it")
    args = ap.parse_args(argv)

    text = render(build_lines())
    if args.check:
        same = args.out.exists() and args.out.read_text(encoding="utf-8") == text
        print(f"{args.out}: {'up to date' if same else 'DIFFERS from a rebuild'}")
        return 0 if same else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(text.encode("utf-8"))
    print(f"wrote {args.out} ({len(text.encode('utf-8')):,} bytes, {text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
