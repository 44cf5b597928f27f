"""Old home of :mod:`gptnas.methods.gptnas.operators.local` (GPT-NAS's operators live with the method), kept so scripts
written against it keep working."""
from ..methods.gptnas.operators.local import *  # noqa: F401,F403
