"""Design principles as a first-class, readable object.

A :class:`Principles` holds, per position of a fixed-length decision space (an edge of a cell, a layer), the
options it allows and the evidence behind every option — how often it appears among the source's good
architectures and among all, the smoothed enrichment, the additive effect on fitness, the score the search uses,
and where that came from — plus the statements in words and every adaptation with its reason. It is written to a
run directory as ``principles.json`` (what a resume and ``--principles-file`` read) and ``principles.md`` (what a
person reads), and can be written by hand::

    {"positions": {"e01": ["nor_conv_3x3", "nor_conv_1x1"], "e12": ["nor_conv_3x3"]},
     "statements": ["3x3 convolutions on every edge into the output node"]}

(positions not named keep every option). :meth:`Principles.refine` turns it into the refined space: a
:class:`~gptnas.spaces.Subspace` of the full one.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ...errors import ConfigError
from ...storage.atomic import atomic_write_text
from .decisions import option_index, positions_of, refine


@dataclass
class Evidence:
    """Why an option is (or is not) allowed at a position."""

    option: str
    n_top: int = 0              #: among the source's good architectures
    n_all: int = 0              #: among all the source's scored architectures
    enrichment: float = 0.0     #: log of (share among the good) / (share among all), smoothed
    effect: float = 0.0         #: additive effect on the source's fitness, in its standard deviations
    score: float = 0.0          #: what the search uses (higher: more promising)
    source: str = ""


@dataclass
class Position:
    name: str
    allowed: list[str]
    evidence: list[Evidence] = field(default_factory=list)

    def evidence_of(self, option: str) -> Optional[Evidence]:
        return next((e for e in self.evidence if e.option == option), None)


@dataclass
class Principles:
    """Per position the allowed options with their evidence, the statements, the adaptations."""

    space: str
    positions: list[Position]
    statements: list[str] = field(default_factory=list)
    extractor: str = "hand"
    sources: list[str] = field(default_factory=list)
    adaptations: list[dict] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    #: where they come from (:func:`~gptnas.methods.lapt.learn.provenance`): source tasks and a fingerprint of each
    #: one's values, the space, the run that learned them, and every target whose results adapted them
    provenance: dict = field(default_factory=dict)

    # The space -------------------------------------------------------------------------------------------------
    def allowed(self, space) -> list[list[int]]:
        """Allowed option indices per position of ``space`` (see :mod:`.decisions`)."""
        names, options = positions_of(space)
        by_name = {p.name: p for p in self.positions}
        out = []
        for i, name in enumerate(names):
            p = by_name.get(name)
            out.append(list(range(len(options[i]))) if p is None else
                       sorted(option_index(space, i, o) for o in p.allowed))
        return out

    def scores(self, space) -> np.ndarray:
        """Score per (position, option index), float array ``(positions, max options)``; 0 where unknown."""
        names, options = positions_of(space)
        s = np.zeros((len(options), max(len(o) for o in options)))
        by_name = {p.name: p for p in self.positions}
        for i, name in enumerate(names):
            p = by_name.get(name)
            for e in (p.evidence if p else []):
                s[i, option_index(space, i, e.option)] = e.score
        return s

    def refine(self, space):
        """The refined space: ``space`` restricted to the allowed options (a :class:`~gptnas.spaces.Subspace`, or
        a :class:`~gptnas.spaces.macro.MacroSubspace` for block chains)."""
        return refine(space, self.allowed(space))

    def size(self) -> int:
        return math.prod(len(p.allowed) for p in self.positions)

    # Files -----------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Principles":
        positions = [Position(p["name"], list(p["allowed"]), [Evidence(**e) for e in p.get("evidence", [])])
                     for p in d["positions"]]
        return cls(d.get("space", ""), positions, list(d.get("statements", [])), d.get("extractor", "hand"),
                   list(d.get("sources", [])), list(d.get("adaptations", [])), dict(d.get("settings", {})),
                   dict(d.get("provenance", {})))

    @classmethod
    def load(cls, path, space) -> "Principles":
        """Principles from a JSON file: a saved ``principles.json`` or the hand-written form (see the module)."""
        try:
            d = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot read principles file {path}: {e}") from None
        if isinstance(d, dict) and isinstance(d.get("positions"), dict):  # hand-written
            return hand_written(space, d["positions"], d.get("statements", []), source=str(path))
        if not isinstance(d, dict) or not isinstance(d.get("positions"), list):
            raise ConfigError(f"{path} is not a principles file (it needs 'positions': a mapping of position to "
                              "options, or the list a saved principles.json holds); see gptnas.methods.lapt.principles")
        try:
            p = cls.from_dict(d)
        except (KeyError, TypeError, AttributeError) as e:
            raise ConfigError(f"{path} is not a principles file ({type(e).__name__}: {e}); see "
                              "gptnas.methods.lapt.principles") from None
        check_evidence(p, str(path))
        check_against(p, space, str(path))
        return p

    def save(self, folder) -> None:
        """``principles.json`` and ``principles.md`` in ``folder`` (atomically)."""
        folder = Path(folder)
        atomic_write_text(folder / "principles.json", json.dumps(self.to_dict(), indent=1) + "\n", fsync=False)
        atomic_write_text(folder / "principles.md", self.markdown(), fsync=False)

    def markdown(self) -> str:
        """A short page a person reads: statements, the refined space, the evidence, the adaptations."""
        size = (f"{len(self.positions[0].allowed)} of {len(self.positions[0].evidence) or '?'} block types allowed"
                if [p.name for p in self.positions] == ["blocks"] else f"{self.size():,} architectures")
        lines = [f"# Design principles for {self.space}", "",
                 f"Learned by `{self.extractor}` from {', '.join(self.sources) or 'a file'}; refined space: {size}.",
                 "", "## Statements", ""]
        lines += [f"- {s}" for s in self.statements] or ["- (none)"]
        lines += ["", "## Allowed options per position", "",
                  "| position | allowed | evidence (good / all, enrichment, effect in SD, score) |", "|---|---|---|"]
        for p in self.positions:
            ev = "; ".join(f"{e.option}: {e.n_top}/{e.n_all}, {e.enrichment:+.2f}, {e.effect:+.2f}, {e.score:+.2f}"
                           for e in p.evidence) or "—"
            lines.append(f"| {p.name} | {', '.join(p.allowed)} | {ev} |")
        if self.adaptations:
            lines += ["", "## Adaptations", ""]
            for a in self.adaptations:
                lines.append(f"- after {a['evaluation']} evaluations: {a['kind']} — {a['reason']}"
                             + ("; now " + "; ".join(f"{k}: {', '.join(v)}" for k, v in a["changes"].items())
                                if a.get("changes") else ""))
                lines += [f"  - {s}" for s in a.get("statements", [])]  # what the model newly stated then
        return "\n".join(lines) + "\n"


def hand_written(space, positions: dict, statements=(), source: str = "hand") -> Principles:
    """Principles from ``{position name or index: [options]}`` (names or indices); other positions keep all."""
    pos_names, options = positions_of(space)
    out = []
    for i, name in enumerate(pos_names):
        opts = positions.get(name, positions.get(str(i), positions.get(i)))
        names = list(options[i]) if opts is None else \
            [options[i][j] for j in sorted({option_index(space, i, o) for o in opts})]
        if not names:
            raise ConfigError(f"principles leave position {name} of {space.name} with no option")
        out.append(Position(name, names))
    unknown = [k for k in positions if str(k) not in pos_names and not (str(k).isdigit()
                                                                         and int(k) < len(pos_names))]
    if unknown:
        raise ConfigError(f"principles name position {unknown[0]!r}, which {space.name} does not have "
                          f"(it has {', '.join(pos_names)})")
    return Principles(space.name, out, list(statements), "hand", [source])


_NUMBERS = {"n_top": int, "n_all": int, "enrichment": float, "effect": float, "score": float}


def check_evidence(p: Principles, where: str) -> None:
    """Refuse evidence whose counts or scores are not numbers (a hand-edited ``"score": "high"``)."""
    for pos in p.positions:
        if not isinstance(pos.allowed, list) or not all(isinstance(o, (str, int)) for o in pos.allowed):
            raise ConfigError(f"{where}: position {pos.name}: 'allowed' must be a list of option names")
        for e in pos.evidence:
            for k, kind in _NUMBERS.items():
                v = getattr(e, k)
                ok = isinstance(v, int) if kind is int else isinstance(v, (int, float))
                if isinstance(v, bool) or not ok or (kind is float and not math.isfinite(v)):
                    raise ConfigError(f"{where}: position {pos.name}, option {e.option}: evidence {k} must be "
                                      f"{'a whole number' if kind is int else 'a finite number'}, got {v!r}")


def check_against(p: Principles, space, where: str) -> None:
    """Refuse principles for another space (unknown positions or options)."""
    names, _ = positions_of(space)
    for pos in p.positions:
        if pos.name not in names:
            raise ConfigError(f"{where}: position {pos.name!r} is not one of {space.name}'s ({', '.join(names)})")
        i = names.index(pos.name)
        for o in pos.allowed:
            option_index(space, i, o)
        if not pos.allowed:
            raise ConfigError(f"{where}: position {pos.name} has no allowed option")
