"""The generative proposal model of GPT-NAS: a small GPT-2 that learns a search space's grammar and proposes,
scores and repairs architectures.

- :mod:`.vocab` tokens ↔ ids; :mod:`.model` the GPT-2 built from a config; :mod:`.corpus` training data;
  :mod:`.train` pre-training / fine-tuning; :mod:`.proposer` sampling, scoring, reconstruction;
  :mod:`.cache` pre-train once, then load.
- GPT-NAS's own proposer for the block-chain space: :mod:`.layer_proposer` (layer-level GPT + reconstruction),
  :mod:`.block_classifier`, :mod:`.finetune_corpus` (the 36 hand-designed networks). Imported explicitly.
"""
from .cache import PretrainSettings, cache_key, default_cache_dir, pretrained_proposer
from .corpus import CorpusSettings, sample_architectures, to_sequences, top_architectures
from .model import GPTConfig, build_model, space_max_length
from .proposer import GPTProposer, space_fingerprint
from .train import FINETUNE, TrainSettings
from .vocab import BOS, PAD, Vocab

__all__ = [
    "GPTProposer", "GPTConfig", "TrainSettings", "FINETUNE", "CorpusSettings", "PretrainSettings",
    "pretrained_proposer", "cache_key", "default_cache_dir", "sample_architectures", "to_sequences",
    "top_architectures", "build_model", "space_max_length", "space_fingerprint", "Vocab", "BOS", "PAD",
]
