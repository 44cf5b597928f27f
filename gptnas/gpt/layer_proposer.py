"""Old name of :mod:`gptnas.methods.gptnas.layer_proposer`, kept so scripts written against it keep working."""
from ..methods.gptnas.layer_proposer import *  # noqa: F401,F403
from ..methods.gptnas.layer_proposer import LayerGPTProposer, chain_tokens, layer_cache_key, pretrained_layer_proposer  # noqa: F401
from ..methods.gptnas.options import LayerGPTSettings  # noqa: F401
