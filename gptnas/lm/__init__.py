"""Model code every method may use: a small GPT-2 that learns a search space's grammar and proposes, scores and
repairs architectures, and (as methods need them) rankers and a client for OpenAI-compatible LLM servers.

Read top to bottom: :mod:`.vocab` tokens ↔ ids; :mod:`.model` the GPT-2 built from a config; :mod:`.corpus`
training data; :mod:`.train` the training loop; :mod:`.grammar` allowed-token masks; :mod:`.decoding`
constrained sampling; :mod:`.fill` gap filling by whole-candidate scoring; :mod:`.proposer` the proposer that
combines them; :mod:`.persist` save / load; :mod:`.cache` pre-train once, then load.

GPT-NAS's own layer-level GPT for the block-chain space lives with that method, in :mod:`gptnas.methods.gptnas`.
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
