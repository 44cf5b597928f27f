"""Synthetic search problems for the built-in ranker: a prior over fitness landscapes on a space's own decisions.

The built-in ranker learns one skill — given a history of scored architectures, name the best of a pool of unseen
ones — and learns it from trajectories of scored sources. Without benchmark tables (a user's own space, no
``--data``), it learns it here instead, in the manner of prior-data fitted networks (Müller et al., "Transformers
can do Bayesian inference", ICLR 2022): draw many fitness functions from a prior over the space's positions and
options, score a sample of the space's members with each, and train on those problems exactly as on tables
(:func:`~gptnas.methods.lmsearcher.trajectories.samples_from`). A ranker that does well across the prior has learnt
to read a history the way the prior's landscapes reward, whatever the space's decisions mean.

A landscape (:func:`draw_landscape`), on the latent scale ``z``, is a sum of

- **additive per-option effects** ``a_i[o]``: Gaussian, partly shared by positions with the same number of options
  (correlation ``rho ~ U(0, shared)``: in a cell space the same operation tends to help wherever it stands), and with
  probability ``harmful`` one option index of each such group strongly harmful (an operation that cuts the network);
- **a few dominant decisions**: 0 .. ``dominant`` positions whose effects are scaled up ``U(2, dominant_scale)`` times
  (the edges into a cell's output matter most);
- **sparse pairwise interactions**: about ``interactions`` x positions pairs ``(i, j)`` with a Gaussian table
  ``b_ij[o_i, o_j]`` of scale ``U(0, interaction_scale)`` (what one decision is worth depends on another); each pair
  is a neighbouring one ``(i, i + 1)`` with probability ``neighbours`` (consecutive layers, edges into one node),
  else any pair;
- **observation noise**: Gaussian, ``U(0, noise)`` of the landscape's standard deviation, drawn once per member (a
  table's seed noise);

standardised over the scored members, then **squashed** monotonically, ``lo + (hi - lo) * sigmoid(t (z - c))`` with
random ``t``, ``c``, ``lo`` < ``hi`` ≤ 100, so the values look like accuracies: mostly a saturated top and a long
tail of poor architectures. Only the order and the spacing of values reach the ranker (it reads min–max normalised
scores and ranks), so the squash varies how crowded the top is, not the units.

Everything is drawn from ``numpy`` generators seeded by ``(seed, problem)``: the same seed gives the same problems.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import random
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ...errors import ConfigError, ConfigTypeError
from ..base import check_keys


@dataclass(frozen=True)
class SyntheticPrior:
    """The prior's settings (``lmsearcher.synthetic``): how many problems, how many members each, the landscape's
    knobs."""

    problems: int = 64              # synthetic search problems the ranker trains on
    members: int = 3000             # members of the space scored per problem (all of them when the space is smaller)
    subspaces: int = 12             # pruned sub-spaces per problem (samples_from's n_subspaces)
    keep: float = 0.5               # pruning: each option kept with this probability (a table's: 0.5)
    shared: float = 0.8             # max correlation of an option's effect across positions of the same size
    harmful: float = 0.5            # chance that one option index of a size group is strongly harmful
    dominant: int = 2               # at most this many dominant decisions
    dominant_scale: float = 4.0     # their effects scaled up by U(2, dominant_scale)
    interactions: float = 0.5       # expected pairwise interactions per position
    interaction_scale: float = 1.0  # their scale, relative to an ordinary decision's
    neighbours: float = 0.5         # chance that an interacting pair is two neighbouring positions (i, i + 1)
    noise: float = 0.2              # max observation noise, as a share of the landscape's standard deviation

    @classmethod
    def from_dict(cls, d) -> "SyntheticPrior":
        """From ``lmsearcher.synthetic`` (a mapping of fields; None: the defaults), validated."""
        if isinstance(d, cls):
            return d
        if d is not None and not isinstance(d, dict):
            raise ConfigTypeError(f"lmsearcher option synthetic must be a mapping of the prior's settings, got "
                                  f"{d!r:.60}")
        d = dict(d or {})
        check_keys("lmsearcher.synthetic", d, [f.name for f in dataclasses.fields(cls)])
        prior = cls(**d)
        prior.validate()
        return prior

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            integer = f.type in ("int", int)
            if isinstance(v, bool) or not isinstance(v, int if integer else (int, float)) or \
                    not math.isfinite(v) or v < (1 if f.name in ("problems", "members", "subspaces") else 0):
                raise ConfigError(f"lmsearcher.synthetic option {f.name} must be "
                                  f"a{'n integer' if integer else ' number'} "
                                  f"≥ {1 if f.name in ('problems', 'members', 'subspaces') else 0}, got {v!r}")
        for name in ("shared", "harmful", "keep", "neighbours"):
            if getattr(self, name) > 1:
                raise ConfigError(f"lmsearcher.synthetic option {name} must be in [0, 1], got {getattr(self, name)!r}")
        if self.keep == 0:
            raise ConfigError("lmsearcher.synthetic option keep must be in (0, 1], got 0")
        if self.dominant_scale < 2:
            raise ConfigError(f"lmsearcher.synthetic option dominant_scale must be ≥ 2, got {self.dominant_scale!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class Landscape:
    """One synthetic fitness function over genomes (lists of option indices). Call it on a genome, or
    :meth:`values` on many; :meth:`latent` is the noiseless, unsquashed sum of effects."""

    additive: list                  # per position, the effect of each option
    pairs: list                     # (i, j, table[o_i, o_j])
    dominant: list                  # the dominant positions
    noise: float                    # observation noise's standard deviation, latent units (after standardising)
    squash: tuple                   # (lo, hi, t, c)
    centre: tuple = (0.0, 1.0)      # the latent scale's mean and standard deviation over the scored members
    seed: int = 0                   # the noise's seed
    harmful: dict = field(default_factory=dict)  # size -> the harmful option index of that size group

    def latent(self, genomes) -> np.ndarray:
        """The noiseless sum of effects, standardised, for an (n, positions) array of genomes."""
        g = np.asarray(genomes, dtype=np.int64).reshape(-1, len(self.additive))
        z = sum(a[g[:, i]] for i, a in enumerate(self.additive))
        for i, j, b in self.pairs:
            z = z + b[g[:, i], g[:, j]]
        return (z - self.centre[0]) / self.centre[1]

    def values(self, genomes) -> np.ndarray:
        """Squashed fitness (accuracy-like) with the observation noise each genome always gets (seeded by it)."""
        g = np.asarray(genomes, dtype=np.int64).reshape(-1, len(self.additive))
        eps = _hashed_normal(g, self.seed)
        lo, hi, t, c = self.squash
        return lo + (hi - lo) / (1 + np.exp(-t * (self.latent(g) + self.noise * eps - c)))

    def __call__(self, genome: Sequence[int]) -> float:
        return float(self.values([list(genome)])[0])


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise on uint64 (wrapping)."""
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _hashed_normal(g: np.ndarray, seed: int) -> np.ndarray:
    """A standard normal per row of ``g``, a function of the row and ``seed`` only (Box–Muller on two hashes), so
    a genome's noise is the same however many genomes are scored with it."""
    with np.errstate(over="ignore"):
        h = np.full(len(g), np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(1), dtype=np.uint64)
        for col in g.T.astype(np.uint64):
            h = _mix(h ^ (col + np.uint64(0x632BE59BD9B4E019)))
        u1 = ((_mix(h ^ np.uint64(1)) >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0 ** 53
        u2 = (_mix(h ^ np.uint64(2)) >> np.uint64(11)).astype(np.float64) / 2.0 ** 53
    return np.sqrt(-2 * np.log(u1)) * np.cos(2 * np.pi * u2)


def draw_landscape(sizes: Sequence[int], rng: np.random.Generator, prior: SyntheticPrior = SyntheticPrior()
                   ) -> Landscape:
    """A random landscape over positions with ``sizes`` options (see the module docstring); not yet centred."""
    L = len(sizes)
    groups: dict = {}
    for i, n in enumerate(sizes):
        groups.setdefault(n, []).append(i)
    shared = {n: rng.standard_normal(n) for n in groups}
    harmful = {}
    for n in groups:
        if n > 1 and rng.random() < prior.harmful:
            harmful[n] = int(rng.integers(n))
            shared[n][harmful[n]] -= rng.uniform(2.0, 4.0)
    rho = rng.uniform(0, prior.shared)
    scale = np.ones(L)
    k = int(rng.integers(0, min(prior.dominant, L) + 1))
    dominant = sorted(int(i) for i in rng.choice(L, size=k, replace=False)) if k else []
    scale[dominant] = rng.uniform(2.0, max(2.0, prior.dominant_scale), size=k)
    additive = [scale[i] * (math.sqrt(rho) * shared[n] + math.sqrt(1 - rho) * rng.standard_normal(n))
                for i, n in enumerate(sizes)]
    all_pairs = list(itertools.combinations(range(L), 2))
    m = min(len(all_pairs), int(rng.poisson(prior.interactions * L)))
    pair_scale = rng.uniform(0, prior.interaction_scale)
    chosen: list = []
    for _ in range(m):  # m distinct pairs, each a neighbouring one with probability `neighbours`
        left = [p for p in all_pairs if p not in chosen]
        near = [p for p in left if p[1] == p[0] + 1]
        pool = near if near and rng.random() < prior.neighbours else left
        chosen.append(pool[int(rng.integers(len(pool)))])
    pairs = [(i, j, pair_scale * rng.standard_normal((sizes[i], sizes[j]))) for i, j in chosen]
    hi = rng.uniform(40.0, 99.0)
    squash = (float(rng.uniform(0.0, 0.5) * hi), float(hi), float(rng.uniform(0.5, 2.5)), float(rng.uniform(-2.0, 0.5)))
    return Landscape(additive, pairs, dominant, float(rng.uniform(0, prior.noise)), squash,
                     seed=int(rng.integers(2**31)), harmful=harmful)


def members(space, n: int, rng: random.Random) -> list[list[int]]:
    """Up to ``n`` distinct members of ``space`` (``space.sample``, so its rules hold): all of them, in order, when an
    unconstrained space has at most ``n``."""
    if getattr(space, "positions_independent", False) and math.prod(space.sizes) <= n:
        return [list(g) for g in itertools.product(*[range(k) for k in space.sizes])]
    out, keys = [], set()
    for _ in range(4 * n):
        if len(out) >= n:
            break
        g = list(space.sample(rng))
        k = space.ncode(g)
        if k not in keys:
            keys.add(k)
            out.append(g)
    return out


def subspace_members(allowed: Sequence[Sequence[int]], n: int, rng: random.Random) -> list[list[int]]:
    """``n`` distinct genomes drawn uniformly from the product of ``allowed`` (all of them when it has at most ``n``):
    a pruned sub-space of a space whose positions are independent, drawn directly rather than filtered from a
    sample of the whole space, so a sub-space of any space holds as many members as a table's would."""
    if math.prod(len(a) for a in allowed) <= n:
        return [list(g) for g in itertools.product(*allowed)]
    out, keys = [], set()
    while len(out) < n:
        g = tuple(rng.choice(a) for a in allowed)
        if g not in keys:
            keys.add(g)
            out.append(list(g))
    return out


def synthetic_problem(space, prior: SyntheticPrior, seed: int, index: int) -> tuple[Landscape, list]:
    """Problem ``index`` of seed ``seed``: its landscape, centred over a sample of ``prior.members`` members (all of
    them in a small space), and ``[(genome, fitness), ...]`` over that sample."""
    rng = np.random.default_rng([seed, index, 0x5EED])
    land = draw_landscape(space.sizes, rng, prior)
    genomes = members(space, prior.members, random.Random(int(rng.integers(2**62))))
    z = land.latent(genomes)
    land.centre = (float(z.mean()), float(z.std()) or 1.0)
    return land, [(g, float(v)) for g, v in zip(genomes, land.values(genomes))]


def synthetic_samples(space, prior: SyntheticPrior, seed: int = 0, pool: int = 10, local_share: float = 0.5,
                      shuffle_scores: bool = False, uniform: bool = False) -> list:
    """Ranking samples (:class:`~gptnas.methods.lmsearcher.trajectories.Sample`) from ``prior.problems`` synthetic
    problems on ``space``, ``prior.subspaces`` sub-spaces each, as :func:`samples_from` makes them from a table: per
    sub-space (each option kept with probability ``prior.keep``; ``uniform``: none pruned) 100–200 of its members
    scored by the problem's landscape, histories and pools drawn from them.

    Options are never renamed (``lmsearcher.relabel``): a landscape's effects are random already, and renaming each
    position's options apart would undo what the prior shares between positions of the same size."""
    from .trajectories import prune, samples_from
    rng = random.Random(seed)
    free = getattr(space, "positions_independent", False)
    out = []
    for i in range(prior.problems):
        land, scored = synthetic_problem(space, prior, seed, i)
        for _ in range(prior.subspaces):
            allowed = [list(range(n)) for n in space.sizes] if uniform else prune(space.sizes, rng, prior.keep)
            n = rng.randint(100, 200)
            if free:
                genomes = subspace_members(allowed, n, rng)
                sub = list(zip(genomes, land.values(genomes).tolist()))
            else:  # a space with rules: its sampled members inside the sub-space, else the sample itself
                sub = [(g, f) for g, f in scored if all(v in a for v, a in zip(g, allowed))]
                if len(sub) < pool + 5:
                    sub = scored
            out += samples_from(sub, space, rng, n_subspaces=1, per_subspace=(n, n), pool=pool,
                                local_share=local_share, uniform=True, shuffle_scores=shuffle_scores,
                                source=f"synthetic:{i}")
    return out


def shape(space) -> dict:
    """What of ``space`` a synthetic ranker depends on: options per position and NCode widths (and, for a space
    with rules of its own, its fingerprint, since its members differ)."""
    out = {"sizes": list(space.sizes), "widths": list(space.ncode_widths)}
    if not getattr(space, "positions_independent", True):
        from ...spaces.base import fingerprint
        out["fingerprint"] = fingerprint(space)
    return out


__all__ = ["Landscape", "SyntheticPrior", "draw_landscape", "members", "shape", "subspace_members", "synthetic_problem",
           "synthetic_samples"]
