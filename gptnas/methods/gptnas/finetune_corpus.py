"""The GPT-NAS fine-tuning corpus: 36 hand-designed ImageNet networks, layer by layer.

EfficientNet B0-B7, GoogLeNet, 14 RegNets (torchvision's 15 less ``regnet_y_128gf``), ResNet-18/34/50/101/152,
ResNeXt-50 32x4d and 101 32x8d, ShuffleNetV2 x0.5/x1.0/x1.5/x2.0, Wide-ResNet-50-2 and 101-2, as the paper lists
them. The networks are read off torchvision's definitions at 224x224 and shipped as ``gptnas/data/finetune_corpus.txt``
(``#`` header lines, then ``name<TAB>`` + :func:`gptnas.encodings.layers.encode` of the network's layers per line);
``experiments/build_finetune_corpus.py`` regenerates it (it needs torchvision, in a separate environment).
"""
from __future__ import annotations

from pathlib import Path

from ...encodings.layers import Layer, decode

CORPUS_PATH = Path(__file__).resolve().parents[2] / "data" / "finetune_corpus.txt"


def read_corpus_lines(path: str | Path = CORPUS_PATH) -> dict[str, str]:
    """name → the stored encoded line, in file order (``#`` comment lines and blank lines skipped)."""
    path = Path(path)
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as fh:
        for i, raw in enumerate(fh, 1):
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            name, sep, layers = line.partition("\t")
            if not sep or not name or not layers:
                raise ValueError(f"{path}:{i}: expected 'name<TAB>layers', got {line[:60]!r}")
            if name in out:
                raise ValueError(f"{path}:{i}: network {name!r} appears twice")
            out[name] = layers
    return out


def load_finetune_corpus(path: str | Path = CORPUS_PATH) -> dict[str, list[Layer]]:
    """name → the network's layers in execution order (:func:`~gptnas.encodings.layers.decode` of its line)."""
    return {name: decode(line) for name, line in read_corpus_lines(path).items()}


def finetune_token_sequences(path: str | Path = CORPUS_PATH) -> dict[str, list[str]]:
    """name → the network as the GPT sees it: one :meth:`~gptnas.encodings.layers.Layer.token` per layer."""
    return {name: [layer.token() for layer in layers] for name, layers in load_finetune_corpus(path).items()}
