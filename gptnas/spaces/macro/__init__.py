"""GPT-NAS's block-chain space: :mod:`.space` (:class:`MacroSpace`), the 15 block types (:mod:`.block_types`
names, :mod:`.blocks` modules) and the chain's network (:mod:`.network`). torch is imported only by the modules
that build networks."""
from .block_types import BLOCK_TYPES
from .space import MacroSpace, MacroSubspace, stem_resolution

__all__ = ["BLOCK_TYPES", "MacroSpace", "MacroSubspace", "stem_resolution"]
