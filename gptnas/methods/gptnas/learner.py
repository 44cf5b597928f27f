"""What GPT-NAS learns during a search: the GPT, fine-tuned on a source task before it starts (transfer) and on
the search's own elites as it goes (online). Its weights are checkpointed, so a resumed run continues with the
same model.

With several workers an online fine-tune runs in a thread beside the search, on a copy of the GPT, and takes effect
a fixed number of proposals later (as many as there are workers): proposals go on meanwhile with the model of
before, and which proposals see the new model never depends on how long the fine-tune took."""
from __future__ import annotations

import copy
import logging
import random
import threading

from ..base import Learner
from ..sources import top_genomes

log = logging.getLogger(__name__)


class GPTLearner(Learner):
    """Args: proposer (token or layer GPT), pretrain_key (the cache key of the pre-trained model, recorded),
    settings (:class:`~gptnas.methods.gptnas.GPTSettings`), ctx (the search's context), population (fine-tunes are
    counted in populations' worth of evaluations)."""

    name = "gpt"

    def __init__(self, proposer, pretrain_key: str, settings, ctx, population: int, mix=None):
        self.proposer, self.pretrain_key, self.settings, self.ctx = proposer, pretrain_key, settings, ctx
        self.population = population
        self.mix = mix  # the adaptive operator choice, scored here after each generation
        self.ready = False
        self.transfer: dict | None = None
        self.finetuned_at = 0
        self._weights = None
        self._base = None  # what online fine-tunes restart from (gpt.finetune_from=pretrained): pre-trained/transferred
        # steady-state with workers to keep busy: fine-tune beside the search
        self.background = getattr(ctx, "workers", 1) > 1 and settings.loop == "rea"
        self._job: BackgroundFinetune | None = None

    def begin_generation(self, history) -> None:
        if self._job is not None and history.generation >= self._job.effect_at:
            self._weights = self._job.result()
            self.proposer.load_state_dict(self._weights)
            self.proposer.train_log.extend(self._job.log)
            self._job = None
        if self.ready:
            return
        g = self.settings
        if g.transfer_from:
            archs = top_genomes(g.transfer_from, self.ctx, g.transfer_top)
            stats = self.proposer.finetune(archs, rng=self.ctx.rngs.py, **self._finetune_args(len(archs)))
            log.info("GPT fine-tuned on the top %d architectures of %s (loss %.3f)", len(archs), g.transfer_from,
                     stats["losses"][-1])
            self.transfer = {"source": g.transfer_from, "n": len(archs)}
        self._weights = self._base = self.proposer.state_dict()
        self.ready = True

    def end_generation(self, population, history) -> None:
        if self.mix is not None:
            self.mix.update(history)
        # Counted in evaluations, not generations, so the GA (a population per generation) and the REA loop
        # (one child per generation) fine-tune equally often for the same budget.
        g = self.settings
        if not history.running and self._job is not None:
            self._job.result()  # no thread outlives its search (it stays pending in the last checkpoint)
        due = history.evaluations - self.finetuned_at >= g.finetune_every * self.population
        if not g.online or not history.running or not due:
            return
        self.finetuned_at = history.evaluations
        archs = self.finetune_set(history)
        if archs and self.background:
            if self._job is not None:  # the one before has not taken effect yet: it does now
                self._weights = self._job.result()
                self.proposer.load_state_dict(self._weights)
            start = self._base if self.settings.finetune_from == "pretrained" and self._base is not None else None
            self._job = BackgroundFinetune(self.proposer, archs, self.ctx.rngs.py.getrandbits(64), start,
                                           self._finetune_args(len(archs)), history.generation + self.ctx.workers)
        elif archs:
            if g.finetune_from == "pretrained" and self._base is not None:
                self.proposer.load_state_dict(self._base)  # the search's model of now, not a drift of all the past
            self.proposer.finetune(archs, rng=self.ctx.rngs.py, **self._finetune_args(len(archs)))
            self._weights = self.proposer.state_dict()

    def _finetune_args(self, n: int) -> dict:
        """Epochs and learning rate of a fine-tune on ``n`` architectures (``finetune_steps`` become epochs)."""
        g = self.settings
        epochs = g.finetune_epochs
        if g.finetune_steps is not None and epochs is None:
            from ...lm.train import FINETUNE  # torch is loaded by now: the proposer uses it
            batch = FINETUNE.batch_size
            epochs = max(1, round(g.finetune_steps / max(1, -(-n // batch))))
        return {k: v for k, v in (("epochs", epochs), ("lr", g.finetune_lr)) if v is not None}

    def finetune_set(self, history) -> list:
        """``top``: the best ``elites``; ``rank``: the best quarter (at least 5), the better repeated more (4 copies
        of the best down to 1), so the GPT models the good region with the best at its centre."""
        g = self.settings
        if g.weighting != "rank":
            return [e.genome for e in history.top(g.elites) if not e.failed]
        ok = [e for e in history.top(len(history)) if not e.failed]
        k = max(5, -(-len(ok) // 4))
        best = ok[:k]
        return [e.genome for r, e in enumerate(best) for _ in range(1 + (3 * (k - 1 - r)) // max(1, k - 1))]

    def state_dict(self) -> dict:
        d = {"gpt_pretrain_key": self.pretrain_key, "gpt_weights": self._weights}
        if self.transfer:
            d["gpt_transfer"] = self.transfer
        if self.finetuned_at:
            d["gpt_finetuned_at"] = self.finetuned_at
        if self.settings.finetune_from == "pretrained" and self.transfer:
            d["gpt_base"] = self._base  # the transferred weights online fine-tunes restart from
        if self.mix is not None:
            d["operator_mix"] = self.mix.state_dict()
        if self._job is not None:  # a resumed run trains it again, from the same weights and seed
            d["gpt_pending"] = self._job.spec()
        return d

    def load_state_dict(self, state: dict) -> None:
        if self.mix is not None and "operator_mix" in state:
            self.mix.load_state_dict(state["operator_mix"])
        if state.get("gpt_weights") is None:
            return
        self._base = state.get("gpt_base") or self.proposer.state_dict()  # the freshly loaded pre-trained model
        self.proposer.load_state_dict(state["gpt_weights"])
        self._weights = state["gpt_weights"]
        self.transfer = state.get("gpt_transfer")
        self.finetuned_at = state.get("gpt_finetuned_at", 0)
        self.ready = True
        pending = state.get("gpt_pending")
        if pending is not None:
            start = self._base if pending["from_base"] else None
            self._job = BackgroundFinetune(self.proposer, pending["archs"], pending["seed"], start, pending["args"],
                                           pending["effect_at"])


class BackgroundFinetune:
    """One fine-tune of a copy of ``proposer`` in a thread: ``result()`` waits for it and returns the weights.

    Args: archs (genomes), seed (the fine-tune's seed, drawn from the search's generator when it fired), start
    (weights to start from instead of the proposer's current ones), args (epochs, lr), effect_at (the proposal,
    counted in generations, from which the search uses the new weights)."""

    def __init__(self, proposer, archs: list, seed: int, start, args: dict, effect_at: int):
        self.archs, self.seed, self.args, self.effect_at = [list(a) for a in archs], seed, dict(args), effect_at
        self.from_base = start is not None
        self.log: list = []
        self._clone = copy.deepcopy(proposer)
        if start is not None:
            self._clone.load_state_dict(start)
        self._weights = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="gptnas-finetune", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            n = len(self._clone.train_log)
            self._clone.finetune(self.archs, rng=random.Random(self.seed), **self.args)
            self.log = self._clone.train_log[n:]
            self._weights = self._clone.state_dict()
        except BaseException as e:  # noqa: BLE001 - raised in the search's thread by result()
            self._error = e

    def result(self) -> dict:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._weights

    def spec(self) -> dict:
        return {"archs": self.archs, "seed": self.seed, "args": self.args, "effect_at": self.effect_at,
                "from_base": self.from_base}
