"""Which GPT a ``gptnas`` search uses: the token-level GPT on any space with a grammar, or GPT-NAS's own layer GPT
with its block classifier on the block-chain space. Chosen by what the space is, never by its name."""
from __future__ import annotations

import logging

from ...errors import ConfigError
from ...spaces.base import require_grammar
from ...spaces.macro import MacroSpace

log = logging.getLogger(__name__)
DEFAULT_SHAPE = (3, 32, 32)


def input_shape(dataset) -> tuple[int, int, int]:
    """``(C, H, W)`` of the run's image dataset, or 32×32 RGB when it has none (a user's own fitness)."""
    from ...datasets import DATASETS
    if dataset in DATASETS:
        return DATASETS[dataset].shape
    log.info("no image dataset for the layer GPT: it sees networks for %s inputs", "x".join(map(str, DEFAULT_SHAPE)))
    return DEFAULT_SHAPE


def uses_layer_gpt(space, g) -> bool:
    """Whether the run uses GPT-NAS's layer GPT (the block-chain space, ``gptnas.level`` auto or layer)."""
    return g.level == "layer" or (g.level == "auto" and isinstance(space, MacroSpace))


def build_proposer(space, g, ctx):
    """``(proposer, cache key)`` for the run's space and ``gpt`` settings ``g`` (pre-trained, from the cache)."""
    if uses_layer_gpt(space, g):
        if not isinstance(space, MacroSpace):
            raise ConfigError(f"gptnas.level=layer needs GPT-NAS's block-chain space (--space macro), not {space.name}")
        from .layer_proposer import layer_cache_key, pretrained_layer_proposer
        from .options import LayerGPTSettings
        shape = input_shape(ctx.dataset)
        try:
            settings = LayerGPTSettings.from_dict(g.layer_gpt)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"bad gptnas.layer_gpt settings: {e}") from None
        return (pretrained_layer_proposer(space, shape, settings, cache_dir=ctx.cache_dir, progress=ctx.progress),
                layer_cache_key(space, shape, settings))
    require_grammar(space, "method gptnas")
    from ...lm.cache import PretrainSettings, cache_key, token_proposer
    proposer = token_proposer(space, g.pretrain, ctx.cache_dir, ctx.progress, "gptnas.pretrain")
    return proposer, cache_key(space, PretrainSettings.from_dict(g.pretrain))
