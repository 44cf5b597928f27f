"""GPT-NAS (Yu et al., arXiv 2305.05351), whole: the method (:mod:`.method`), its options (:mod:`.options`), what it
learns during a search (:mod:`.learner`), which GPT it uses (:mod:`.proposers`), and GPT-NAS's own layer-level GPT
for the block-chain space (:mod:`.layer_proposer`, :mod:`.block_classifier`, :mod:`.finetune_corpus`).

The token-level GPT it shares with other methods lives in :mod:`gptnas.lm`.
"""
from ...core.objects import lazy_exports

# Lazy (PEP 562): reading this package's options must not import the method (and with it torch).
_EXPORTS = {"GPTNAS": "method", "mut_reconstruct_or_classic": "method", "GPTSettings": "options",
            "LayerGPTSettings": "options"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = ["GPTNAS", "GPTSettings", "LayerGPTSettings", "mut_reconstruct_or_classic"]
