"""Old home of :mod:`gptnas.methods.gptnas.operators.schedule` (GPT-NAS's operators live with the method), kept so scripts
written against it keep working."""
from ..methods.gptnas.operators.schedule import *  # noqa: F401,F403
