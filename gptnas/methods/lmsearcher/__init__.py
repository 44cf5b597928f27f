"""NAS as ranking (LM-Searcher, Hu et al., EMNLP 2025), whole: its exact text (:mod:`.prompt`), training
trajectories by pruning-based subspace sampling (:mod:`.trajectories`), the rankers — built-in, LLM, random — and
where the built-in one learns (:mod:`.rankers`; the model itself is shared code, :mod:`gptnas.lm.ranker`), the
method and ranked pre-screening for other methods (:mod:`.method`), and its options (:mod:`.options`)."""
# Lazy (PEP 562): reading this package's options must not import the method (and with it torch).
_EXPORTS = {'LMSearcher': 'method', 'Prescreened': 'method', 'RankerLearner': 'method', 'RankSettings': 'options'}


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


__all__ = ["LMSearcher", "Prescreened", "RankSettings", "RankerLearner"]
