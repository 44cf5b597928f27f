"""Design-principle transfer (LAPT, Zhou et al., AAAI 2025), whole: principles as a readable object
(:mod:`.principles`), their extractors (:mod:`.stats` with the ``frequency`` baseline, :mod:`.gpt`, :mod:`.llm` with
its prompt chain in :mod:`.prompts`), learning them for a search (:mod:`.learn`), the method and its adaptation
(:mod:`.method`), and its options (:mod:`.options`)."""
from .method import LAPT, PrinciplesLearner
from .options import PrinciplesSettings
from .principles import Evidence, Position, Principles

__all__ = ["LAPT", "Evidence", "Position", "Principles", "PrinciplesLearner", "PrinciplesSettings"]
