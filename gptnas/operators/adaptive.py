"""Old home of :mod:`gptnas.methods.gptnas.operators.adaptive` (GPT-NAS's operators live with the method), kept so scripts
written against it keep working."""
from ..methods.gptnas.operators.adaptive import *  # noqa: F401,F403
