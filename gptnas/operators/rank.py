"""Old home of :mod:`gptnas.methods.lmsearcher.prescreen` (ranked pre-screening lives with LM-Searcher)."""
from ..methods.lmsearcher.prescreen import *  # noqa: F401,F403
from ..methods.lmsearcher.prescreen import sel_ranked  # noqa: F401
