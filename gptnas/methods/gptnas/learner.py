"""What GPT-NAS learns during a search: the GPT, fine-tuned on a source task before it starts (transfer) and on
the search's own elites as it goes (online). Its weights are checkpointed, so a resumed run continues with the
same model."""
from __future__ import annotations

import logging

from ..base import Learner
from ..sources import top_genomes

log = logging.getLogger(__name__)


class GPTLearner(Learner):
    """Args: proposer (token or layer GPT), pretrain_key (the cache key of the pre-trained model, recorded),
    settings (:class:`~gptnas.methods.gptnas.GPTSettings`), ctx (the search's context), population (fine-tunes are
    counted in populations' worth of evaluations)."""

    name = "gpt"

    def __init__(self, proposer, pretrain_key: str, settings, ctx, population: int):
        self.proposer, self.pretrain_key, self.settings, self.ctx = proposer, pretrain_key, settings, ctx
        self.population = population
        self.ready = False
        self.transfer: dict | None = None
        self.finetuned_at = 0
        self._weights = None

    def begin_generation(self, history) -> None:
        if self.ready:
            return
        g = self.settings
        if g.transfer_from:
            archs = top_genomes(g.transfer_from, self.ctx, g.transfer_top)
            stats = self.proposer.finetune(archs, epochs=g.finetune_epochs, rng=self.ctx.rngs.py)
            log.info("GPT fine-tuned on the top %d architectures of %s (loss %.3f)", len(archs), g.transfer_from,
                     stats["losses"][-1])
            self.transfer = {"source": g.transfer_from, "n": len(archs)}
        self._weights = self.proposer.state_dict()
        self.ready = True

    def end_generation(self, population, history) -> None:
        # Counted in evaluations, not generations, so the GA (a population per generation) and the REA loop
        # (one child per generation) fine-tune equally often for the same budget.
        g = self.settings
        due = history.evaluations - self.finetuned_at >= g.finetune_every * self.population
        if not g.online or not history.running or not due:
            return
        self.finetuned_at = history.evaluations
        elites = [e.genome for e in history.top(g.elites) if not e.failed]
        if elites:
            self.proposer.finetune(elites, epochs=g.finetune_epochs, rng=self.ctx.rngs.py)
            self._weights = self.proposer.state_dict()

    def state_dict(self) -> dict:
        d = {"gpt_pretrain_key": self.pretrain_key, "gpt_weights": self._weights}
        if self.transfer:
            d["gpt_transfer"] = self.transfer
        if self.finetuned_at:
            d["gpt_finetuned_at"] = self.finetuned_at
        return d

    def load_state_dict(self, state: dict) -> None:
        if state.get("gpt_weights") is None:
            return
        self.proposer.load_state_dict(state["gpt_weights"])
        self._weights = state["gpt_weights"]
        self.transfer = state.get("gpt_transfer")
        self.finetuned_at = state.get("gpt_finetuned_at", 0)
        self.ready = True
