"""Saving and loading the project's models: transformers' ``save_pretrained`` plus a JSON file of what the model
is for (vocabulary, settings, space), shared by every proposer."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Iterator

from transformers.utils import logging as hf_logging

from ..errors import ConfigError


def space_fingerprint(space) -> str:
    """Short sha256 of the space's description and vocabulary: weights only load into the space they fit."""
    blob = json.dumps({"describe": space.describe(), "vocabulary": list(space.vocabulary)},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Hide transformers' per-save progress bar (a one-file model needs none), restoring the caller's setting."""
    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()


def tensors(module) -> dict:
    """A module's state dict as detached CPU copies (picklable into a checkpoint)."""
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def save_model(model, directory: str | os.PathLike, meta: dict, meta_file: str) -> Path:
    """``model.save_pretrained(directory)`` and ``meta`` as JSON in ``directory/meta_file``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    with quiet_transformers():
        model.save_pretrained(d)
    (d / meta_file).write_text(json.dumps(meta, indent=1, default=str))
    return d


def read_meta(directory: str | os.PathLike, meta_file: str, what: str = "gptnas model") -> dict:
    d = Path(directory)
    try:
        return json.loads((d / meta_file).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{d} holds no {what} ({meta_file} missing)") from None


def load_hf_model(directory: str | os.PathLike):
    """The ``GPT2LMHeadModel`` saved in ``directory`` (local files only), in eval mode."""
    from transformers import GPT2LMHeadModel

    with quiet_transformers():
        return GPT2LMHeadModel.from_pretrained(Path(directory), local_files_only=True).eval()
