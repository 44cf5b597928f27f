"""GPT-NAS (Yu et al., arXiv 2305.05351), whole: the method (:mod:`.method`), its options (:mod:`.options`), what it
learns during a search (:mod:`.learner`), which GPT it uses (:mod:`.proposers`), and GPT-NAS's own layer-level GPT
for the block-chain space (:mod:`.layer_proposer`, :mod:`.block_classifier`, :mod:`.finetune_corpus`).

The token-level GPT it shares with other methods lives in :mod:`gptnas.lm`.
"""
from .method import GPTNAS, mut_reconstruct_or_classic
from .options import GPTSettings, LayerGPTSettings

__all__ = ["GPTNAS", "GPTSettings", "LayerGPTSettings", "mut_reconstruct_or_classic"]
