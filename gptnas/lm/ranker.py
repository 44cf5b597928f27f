"""Old home of :mod:`gptnas.methods.lmsearcher.ranker` (LM-Searcher's built-in ranker lives with the method)."""
from ..methods.lmsearcher.ranker import *  # noqa: F401,F403
from ..methods.lmsearcher.ranker import __all__  # noqa: F401
