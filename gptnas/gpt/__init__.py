"""Old name of :mod:`gptnas.lm` (the shared model code), kept so scripts written against it keep working.

``gptnas.gpt`` → :mod:`gptnas.lm`; ``gptnas.gpt.layer_proposer`` → :mod:`gptnas.methods.gptnas.layer_proposer`.
"""
import warnings as _warnings

from ..lm import *  # noqa: F401,F403
from ..lm import __all__  # noqa: F401

_warnings.warn("gptnas.gpt was renamed gptnas.lm (GPT-NAS's layer GPT: gptnas.methods.gptnas)", DeprecationWarning,
               stacklevel=2)
