"""Design-principle transfer (LAPT, Zhou et al., AAAI 2025), whole: principles as a readable object
(:mod:`.principles`), their extractors (:mod:`.stats` with the ``frequency`` baseline, :mod:`.gpt`, :mod:`.llm` with
its prompt chain in :mod:`.prompts`), learning them for a search (:mod:`.learn`), the method and its adaptation
(:mod:`.method`), and its options (:mod:`.options`)."""
from ...core.objects import lazy_exports

# Lazy (PEP 562): reading this package's options must not import the method (and with it torch).
_EXPORTS = {"LAPT": "method", "PrinciplesLearner": "method", "PrinciplesSettings": "options", "Principled": "wrapper",
            "Evidence": "principles", "Position": "principles", "Principles": "principles"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = ["LAPT", "Principled", "Evidence", "Position", "Principles", "PrinciplesLearner", "PrinciplesSettings"]
