"""The ``gpt`` extractor: the project's own GPT, fine-tuned on the source's good architectures; its per-position
marginals (estimated from samples) give the allowed options.

This ties design-principle transfer to the GPT-NAS proposer: the same pre-trained model (cached by space and
settings), the same fine-tuning. An option's score is ``log(p / (1/n))``: how much more likely the fine-tuned GPT
makes it than a uniform choice among the position's ``n`` options.
"""
from __future__ import annotations

import random

import numpy as np

from .decisions import counts, positions_of
from .stats import StatsExtractor, build, good_count


class GPTExtractor(StatsExtractor):
    """Args: max_options, top / min_top (which source architectures fine-tune it), samples (drawn for the
    marginals), pretrain (``gptnas.pretrain`` settings), cache_dir, seed, progress."""

    name = "gpt"

    def __init__(self, max_options: int, top: float = 0.01, min_top: int = 10, samples: int = 2000,
                 pretrain=None, cache_dir=None, seed: int = 0, progress: bool = True, **_):
        super().__init__(max_options, top, min_top, effect_weight=0.0)
        self.samples, self.pretrain, self.cache_dir, self.seed, self.progress = samples, pretrain, cache_dir, seed, \
            progress

    def extract(self, sources, space):
        from ...lm.cache import pretrained_proposer
        gpt = pretrained_proposer(space, self.pretrain, cache_dir=self.cache_dir, progress=self.progress)
        rng = random.Random(self.seed)
        good = []
        for _, scored in sources:
            order = sorted(range(len(scored)), key=lambda i: -scored[i][1])
            good += [scored[i][0] for i in order[:good_count(len(scored), self.top, self.min_top)]]
        gpt.finetune(good, rng=rng)
        names, options = positions_of(space)
        sizes = [len(o) for o in options]
        uses = counts(space, gpt.sample(self.samples, rng)).sum(0)
        p = np.zeros((len(sizes), max(sizes)))
        for i, n in enumerate(sizes):
            p[i, :n] = (uses[i, :n] + 0.5) / (uses[i].sum() + 0.5 * n)
        score = np.log(p * np.array(sizes)[:, None] + 1e-12)
        top_counts = sum(self.evidence(scored, space)[0] for _, scored in sources)
        all_counts = sum(self.evidence(scored, space)[1] for _, scored in sources)
        statements = [f"On {name}, the GPT fine-tuned on the {len(good)} best of {', '.join(s for s, _ in sources)} "
                      f"proposes " + ", ".join(f"{options[i][o]} {100 * p[i, o]:.0f} %" for o in
                                             sorted(range(sizes[i]), key=lambda o: -p[i, o])) + "."
                      for i, name in enumerate(names)]
        return build(space, score, top_counts, all_counts, score, np.zeros_like(score), self.max_options,
                     self.name, [s for s, _ in sources], statements,
                     {"good": len(good), "samples": self.samples, "max_options": self.max_options})
