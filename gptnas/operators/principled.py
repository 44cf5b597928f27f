"""Old home of :mod:`gptnas.methods.lapt.operators` (LAPT's principle-guided operators live with the method)."""
from ..methods.lapt.operators import *  # noqa: F401,F403
from ..methods.lapt.operators import init_principled, mut_principled  # noqa: F401
