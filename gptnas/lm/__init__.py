"""Model code every method may use: a small GPT-2 that learns a search space's grammar and proposes, scores and
repairs architectures, and (as methods need them) rankers and a client for OpenAI-compatible LLM servers.

Read top to bottom: :mod:`.vocab` tokens ↔ ids; :mod:`.model` the GPT-2 built from a config; :mod:`.corpus`
training data; :mod:`.train` the training loop; :mod:`.grammar` allowed-token masks; :mod:`.decoding`
constrained sampling; :mod:`.fill` gap filling by whole-candidate scoring; :mod:`.proposer` the proposer that
combines them; :mod:`.persist` save / load; :mod:`.cache` pre-train once, then load.

GPT-NAS's own layer-level GPT for the block-chain space lives with that method, in :mod:`gptnas.methods.gptnas`.
"""
from ..core.objects import lazy_exports

# Lazy (PEP 562): importing a light submodule such as .llm, or reading a config, must not pull in torch and
# transformers (5 s on 2 cores) just to report a one-line error.
_EXPORTS = {
    "PretrainSettings": "cache", "cache_key": "cache", "default_cache_dir": "cache", "pretrained_proposer": "cache",
    "CorpusSettings": "corpus", "sample_architectures": "corpus", "to_sequences": "corpus",
    "top_architectures": "corpus",
    "GPTConfig": "model", "build_model": "model", "space_max_length": "model",
    "GPTProposer": "proposer", "space_fingerprint": "proposer",
    "FINETUNE": "train", "TrainSettings": "train",
    "BOS": "vocab", "PAD": "vocab", "Vocab": "vocab",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

