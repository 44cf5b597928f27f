"""NAS as ranking (LM-Searcher, Hu et al., EMNLP 2025), whole: its exact text (:mod:`.prompt`), training
trajectories by pruning-based subspace sampling (:mod:`.trajectories`), the rankers — built-in, LLM, random — and
where the built-in one learns (:mod:`.rankers`), the built-in ranker model itself (:mod:`.ranker`), the method
(:mod:`.method`), ranked pre-screening of any other method (:mod:`.prescreen`), and its options (:mod:`.options`)."""
from ...core.objects import lazy_exports

# Lazy (PEP 562): reading this package's options must not import the method (and with it torch).
_EXPORTS = {"LMSearcher": "method", "Prescreened": "prescreen", "RankerLearner": "rankers", "sel_ranked": "prescreen",
            "RankSettings": "options"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = ["LMSearcher", "Prescreened", "RankSettings", "RankerLearner", "sel_ranked"]
