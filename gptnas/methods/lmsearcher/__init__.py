"""NAS as ranking (LM-Searcher, Hu et al., EMNLP 2025), whole: its exact text (:mod:`.prompt`), training
trajectories by pruning-based subspace sampling (:mod:`.trajectories`), the rankers — built-in, LLM, random — and
where the built-in one learns (:mod:`.rankers`; the model itself is shared code, :mod:`gptnas.lm.ranker`), the
method and ranked pre-screening for other methods (:mod:`.method`), and its options (:mod:`.options`)."""
from ...core.objects import lazy_exports

# Lazy (PEP 562): reading this package's options must not import the method (and with it torch).
_EXPORTS = {"LMSearcher": "method", "Prescreened": "method", "RankerLearner": "method",
            "RankSettings": "options"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = ["LMSearcher", "Prescreened", "RankSettings", "RankerLearner"]
