"""Fixed-length categorical decision spaces, their NCode, and their sub-spaces.

>>> space = CategoricalSequenceSpace([["conv3", "conv5", "pool"]] * 8, name="chain8")

defines an 8-decision chain space in one line. Position ``i`` takes an index into ``options[i]``; the genome is the
list of those indices. What every such space has, for free:

- the token grammar (tokens ``"<position>=<option>"``, so a token names both where it stands and what it chose;
  the grammar allows exactly the options of the next position), so the GPT proposer works on it unchanged;
- **NCode** (LM-Searcher's universal numeric encoding, :meth:`CategoricalSequenceSpace.ncode`): one digit per
  decision, the chosen option's index. A position with more than 10 options is written with as many digits as its
  largest index needs, zero-padded (a position with 12 options takes 2 digits: ``00`` .. ``11``), so every code of
  a space has the same length and reads back unambiguously;
- **sub-spaces** (:meth:`CategoricalSequenceSpace.subspace`): per position, a subset of the options. A
  :class:`Subspace` samples, mutates and crosses over inside the subset and offers only allowed tokens in
  ``next_tokens`` (so a GPT's grammar masking enforces it), while sharing the parent's vocabulary and description
  (so a GPT pre-trained for the parent is reused, not rebuilt). It can be widened or narrowed during a search;
  ``grammar_version`` counts the changes, so a proposer's cached grammar masks follow them.
"""
from __future__ import annotations

import random
from typing import Sequence, Union

from ..errors import ConfigTypeError, InvalidArchitecture, SpaceError
from .base import END, GrammarSpace

Option = Union[int, str]
#: Random draws :meth:`CategoricalSequenceSpace.sample` makes in a space with a validity constraint before it gives
#: up (one line: members are rarer than one in this many; the space should draw them itself).
MAX_DRAWS = 10_000


def _names(what: str, values) -> list[str]:
    """``values`` as a list of names, or a one-line error: a string, a number or a mapping is not a list of names."""
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
        raise ConfigTypeError(f"{what} must be a list of names, got {type(values).__name__} {values!r:.60}")
    return [str(v) for v in values]


def valid_neighbour(arch: Sequence[int], allowed: Sequence[Sequence[int]], is_valid, rng: random.Random,
                    tries: int = 100, steps: int = 3):
    """A member near ``arch``, for spaces whose rules make single changes non-members: up to ``tries`` short
    random walks, each changing one position at a time (up to ``steps`` changes) until it reaches a member other
    than ``arch``, then every member one change away; None when neither finds one. A walk's first change is the
    single change an unconstrained space's mutation draws, and it stops there when that is a member; where it is
    not, the walk goes on from it, so children two or three changes away come too — the more often the more
    single changes the rules reject — which is what connects members that no single change joins (moving a pool in
    a chain that must keep two pools takes two). ``allowed[i]``: the options of position ``i``."""
    free = [i for i, a in enumerate(allowed) if len(a) > 1]
    if not free:
        return None
    arch = list(arch)
    for _ in range(tries):
        cand = list(arch)
        for _ in range(steps):
            i = rng.choice(free)
            cand[i] = rng.choice([j for j in allowed[i] if j != cand[i]] or list(allowed[i]))
            if cand != arch and is_valid(cand):
                return cand
    every = [arch[:i] + [j] + arch[i + 1:] for i in free for j in allowed[i] if j != arch[i]]
    every = [c for c in every if is_valid(c)]
    return rng.choice(every) if every else None


def member_near(arch: list, allowed, is_valid, sample, rng: random.Random) -> list[int]:
    """The mutation of a space with rules: :func:`valid_neighbour`, else a fresh member from ``sample`` (10 draws),
    else ``arch`` itself (a repeat, which costs no evaluation)."""
    near = valid_neighbour(arch, allowed, is_valid, rng)
    if near is not None:
        return near
    for _ in range(10):
        g = sample(rng)
        if g != arch:
            return g
    return arch


class CategoricalSequenceSpace(GrammarSpace):
    """Fixed-length genome; position ``i`` takes an index into ``options[i]``.

    Args:
        options: one list of option names per position (names must not contain spaces or ``=``).
        names: one name per position (default ``p0``, ``p1``, ...).
        name: the space's name.
        description: the space in words for an LLM (LAPT's prompt): what an architecture is, how the positions
            connect, what each option does; default: the positions and their options only.
    """

    grammar_version = 0  #: a full space never changes its grammar
    description = None

    def __init__(self, options: Sequence[Sequence[str]], names: Sequence[str] | None = None, name: str = "sequence",
                 description: str | None = None):
        if isinstance(options, (str, bytes, dict)) or not hasattr(options, "__iter__"):
            raise ConfigTypeError(f"options must be one list of option names per position, got "
                                  f"{type(options).__name__} {options!r:.60}")
        self.options = [_names(f"the options of position {i}", o) for i, o in enumerate(options)]
        if not self.options or any(len(o) == 0 for o in self.options):
            raise SpaceError("every position needs at least one option (options: one list of names per position)")
        self.names = _names("names", names) if names is not None else [f"p{i}" for i in range(len(self.options))]
        if len(self.names) != len(self.options):
            raise SpaceError(f"one name per position: {len(self.names)} names for {len(self.options)} positions")
        bad = [o for opts in self.options for o in opts if " " in o or "=" in o or not o] + \
              [n for n in self.names if " " in n or "=" in n or not n]
        if bad:
            raise SpaceError(f"option and position names must be non-empty, without spaces or '=': {bad[0]!r}")
        for i, opts in enumerate(self.options):
            twice = sorted({o for o in opts if opts.count(o) > 1})
            if twice:  # two options of one name would be one token: the GPT's vocabulary and the archive merge them
                raise SpaceError(f"position {self.names[i]} has option {twice[0]!r} more than once: option names must "
                                 "be distinct within a position")
        twice = sorted({n for n in self.names if self.names.count(n) > 1})
        if twice:
            raise SpaceError(f"position name {twice[0]!r} is used more than once: position names must be distinct")
        if not isinstance(name, str) or not name:
            raise ConfigTypeError(f"name must be a non-empty string, got {name!r}")
        self.name = name
        if description is not None and (not isinstance(description, str) or not description.strip()):
            raise ConfigTypeError(f"description must be text (the space in words), got {description!r:.60}")
        if description is not None:
            self.description = description.strip()
        self._tokens = [[f"{n}={o}" for o in opts] for n, opts in zip(self.names, self.options)]
        self._lookup = [{t: j for j, t in enumerate(ts)} for ts in self._tokens]
        self._widths = [max(1, len(str(len(o) - 1))) for o in self.options]

    @property
    def length(self) -> int:
        return len(self.options)

    @property
    def sizes(self) -> list[int]:
        """Number of options per position."""
        return [len(o) for o in self.options]

    def size(self) -> int:
        """Number of genomes in the space (before any validity constraint a subclass adds)."""
        n = 1
        for o in self.options:
            n *= len(o)
        return n

    def sample(self, rng: random.Random) -> list[int]:
        """A uniformly random member: one option per position; in a subclass with its own ``is_valid``, redrawn
        until a member comes up (at most :data:`MAX_DRAWS` times, then :class:`~gptnas.errors.SpaceError`)."""
        g = [rng.randrange(len(o)) for o in self.options]
        if self.positions_independent:
            return g
        for _ in range(MAX_DRAWS - 1):
            if self.is_valid(g):
                return g
            g = [rng.randrange(len(o)) for o in self.options]
        if self.is_valid(g):
            return g
        raise SpaceError(f"space {self.name!r}: no member in {MAX_DRAWS:,} random draws (is_valid accepts fewer than "
                         "one in that many): override sample(rng) to draw members directly")

    def is_valid(self, arch: Sequence[int]) -> bool:
        return len(arch) == self.length and all(
            isinstance(v, int) and 0 <= v < len(o) for v, o in zip(arch, self.options))

    def to_tokens(self, arch: Sequence[int]) -> list[str]:
        # One option per position is all tokens need: keys and tokens exist for non-members of a subclass's
        # stricter is_valid too, so a user's operator's invalid child can be recorded (as a failure) and read back.
        if not CategoricalSequenceSpace.is_valid(self, arch):
            raise InvalidArchitecture(f"not a genome of space {self.name!r}: {list(arch)!r}")
        return [self._tokens[i][v] for i, v in enumerate(arch)]

    def from_tokens(self, tokens: Sequence[str]) -> list[int]:
        if len(tokens) != self.length:
            raise InvalidArchitecture(
                f"space {self.name!r} needs {self.length} tokens, got {len(tokens)}: {' '.join(tokens)!r}")
        try:
            return [self._lookup[i][t] for i, t in enumerate(tokens)]
        except KeyError as e:
            raise InvalidArchitecture(f"token {e.args[0]!r} is not allowed there in space {self.name!r}") from None

    def next_tokens(self, prefix: Sequence[str]) -> list[str]:
        i = len(prefix)
        return list(self._tokens[i]) if i < self.length else [END]

    @property
    def positions_independent(self) -> bool:
        """Whether every combination of options is a member (what the grammar allows at a position does not
        depend on the others): true unless a subclass adds a validity constraint or its own grammar."""
        cls = type(self)
        return cls.is_valid is CategoricalSequenceSpace.is_valid and \
            cls.next_tokens is CategoricalSequenceSpace.next_tokens

    @property
    def grammar_exact(self) -> bool:
        """Whether the grammar alone makes members (see :func:`~gptnas.spaces.base.grammar_is_exact`): true unless a
        subclass adds a rule in ``is_valid`` (a subclass whose ``next_tokens`` enforces its rule may say so)."""
        return type(self).is_valid is CategoricalSequenceSpace.is_valid

    @property
    def vocabulary(self) -> list[str]:
        return [t for ts in self._tokens for t in ts]

    def mutate(self, arch: Sequence[int], rng: random.Random) -> list[int]:
        """Change one position to a different option (positions with one option are never picked); in a subclass
        with its own ``is_valid``, to a member (:func:`valid_neighbour`), else a fresh member is drawn, else the
        parent is returned unchanged (a repeat, which costs no evaluation)."""
        child = list(arch)
        free = [i for i, o in enumerate(self.options) if len(o) > 1]
        if not free:
            return child
        if not self.positions_independent:
            return member_near(child, [range(len(o)) for o in self.options], self.is_valid, self.sample, rng)
        i = rng.choice(free)
        child[i] = rng.choice([j for j in range(len(self.options[i])) if j != child[i]])
        return child

    def describe(self) -> dict:
        return {"name": self.name, "names": self.names, "options": self.options}

    def prompt_description(self) -> str:
        """The space in words for an LLM: ``description`` where given, else what the positions are (their names
        and options are listed beside it)."""
        return self.description or (f"An architecture of {self.name} makes {len(self.options)} decisions, one per "
                                    "layer (position), in this order; each takes one of its options.")

    # NCode ----------------------------------------------------------------------------------------------------
    @property
    def ncode_widths(self) -> list[int]:
        """Digits per position in NCode: 1 up to 10 options, ``len(str(n - 1))`` beyond."""
        return list(self._widths)

    def ncode(self, arch: Sequence[int]) -> str:
        """The genome as NCode: each option index as a fixed-width decimal (see the module docstring)."""
        if not CategoricalSequenceSpace.is_valid(self, arch):
            raise InvalidArchitecture(f"not a member of space {self.name!r}: {list(arch)!r}")
        return "".join(str(v).zfill(w) for v, w in zip(arch, self._widths))

    def from_ncode(self, code: str) -> list[int]:
        """Inverse of :meth:`ncode`; raises :class:`InvalidArchitecture` for a code of the wrong form."""
        code = str(code).strip()
        if len(code) != sum(self._widths) or not code.isdigit():
            raise InvalidArchitecture(f"malformed NCode {code!r} for space {self.name!r}: expected "
                                      f"{sum(self._widths)} digits")
        out, k = [], 0
        for w, opts in zip(self._widths, self.options):
            v = int(code[k:k + w])
            if v >= len(opts):
                raise InvalidArchitecture(f"NCode {code!r}: option {v} at position {len(out)} of space {self.name!r}, "
                                          f"which has {len(opts)}")
            out.append(v)
            k += w
        return out

    # Sub-spaces -----------------------------------------------------------------------------------------------
    def option_index(self, position: int, option: Option) -> int:
        """Index of ``option`` (an index or an option name) at ``position``."""
        if isinstance(option, str) and not option.isdigit():
            try:
                return self.options[position].index(option)
            except ValueError:
                raise InvalidArchitecture(f"{option!r} is not an option of position {self.names[position]} in space "
                                          f"{self.name!r}: choose from {', '.join(self.options[position])}") from None
        v = int(option)
        if not 0 <= v < len(self.options[position]):
            raise InvalidArchitecture(f"option index {v} out of range at position {self.names[position]} "
                                      f"({len(self.options[position])} options)")
        return v

    def subspace(self, allowed: Sequence[Sequence[Option]] | dict) -> "Subspace":
        """The sub-space allowing, per position, only ``allowed[i]`` (indices or option names).

        ``allowed`` may also be a dict ``{position index or name: options}``; unnamed positions keep every option.
        """
        return Subspace(self, allowed)


class Subspace(GrammarSpace):
    """A :class:`CategoricalSequenceSpace` restricted to a subset of options per position.

    Everything not about which options are allowed — keys, parsing, tokens, networks, NCode, the description and
    vocabulary — is the parent's, so architectures, run archives and pre-trained GPTs are interchangeable with it.

    Args:
        parent: the full space (a :class:`CategoricalSequenceSpace`, e.g. NB201's).
        allowed: per position the allowed options (see :meth:`CategoricalSequenceSpace.subspace`).
    """

    def __init__(self, parent: CategoricalSequenceSpace, allowed):
        if isinstance(parent, Subspace):
            parent = parent.parent
        self.parent = parent
        self.name = parent.name
        self.grammar_version = 0
        self.allowed: list[list[int]] = []
        self.set_allowed(allowed, _initial=True)

    # Changing the allowed options ---------------------------------------------------------------------------------
    def _normalise(self, allowed) -> list[list[int]]:
        p = self.parent
        if isinstance(allowed, dict):
            full = [list(range(len(o))) for o in p.options]
            for pos, opts in allowed.items():
                i = p.names.index(pos) if isinstance(pos, str) and pos in p.names else int(pos)
                full[i] = opts
            allowed = full
        if len(allowed) != p.length:
            raise SpaceError(f"a sub-space of {p.name!r} needs allowed options for all {p.length} positions, "
                             f"got {len(allowed)}")
        out = []
        for i, opts in enumerate(allowed):
            idx = sorted({p.option_index(i, o) for o in opts})
            if not idx:
                raise SpaceError(f"position {p.names[i]} of the sub-space would have no option left")
            out.append(idx)
        return out

    def set_allowed(self, allowed, _initial: bool = False) -> None:
        """Replace the allowed options (every position keeps at least one)."""
        new = self._normalise(allowed)
        if new != self.allowed:
            self.allowed = new
            self._allowed_tokens = [{p for p in (self.parent._tokens[i][j] for j in opts)}
                                    for i, opts in enumerate(new)]
            if not _initial:
                self.grammar_version += 1

    def widen(self, position: int, options: Sequence[Option]) -> None:
        """Allow ``options`` at ``position`` too."""
        allowed = [list(a) for a in self.allowed]
        allowed[position] = allowed[position] + [self.parent.option_index(position, o) for o in options]
        self.set_allowed(allowed)

    def narrow(self, position: int, options: Sequence[Option]) -> None:
        """Allow only ``options`` at ``position`` (must not be empty)."""
        allowed = [list(a) for a in self.allowed]
        allowed[position] = [self.parent.option_index(position, o) for o in options]
        self.set_allowed(allowed)

    def allowed_names(self) -> list[list[str]]:
        """The allowed option names per position."""
        return [[self.parent.options[i][j] for j in opts] for i, opts in enumerate(self.allowed)]

    def size(self) -> int:
        n = 1
        for a in self.allowed:
            n *= len(a)
        return n

    def contains(self, arch: Sequence[int]) -> bool:
        """Whether the parent's ``arch`` uses only allowed options."""
        return len(arch) == len(self.allowed) and all(v in a for v, a in zip(arch, self.allowed))

    # The space ----------------------------------------------------------------------------------------------------
    def sample(self, rng: random.Random) -> list[int]:
        for _ in range(MAX_DRAWS):
            g = [a[rng.randrange(len(a))] for a in self.allowed]
            if self.parent.is_valid(g):
                return g
        raise SpaceError(f"no member of {self.parent.name!r} found in the sub-space {self.allowed_names()} in "
                         f"{MAX_DRAWS:,} draws: allow more options (widen it)")

    def is_valid(self, arch: Sequence[int]) -> bool:
        return self.parent.is_valid(arch) and self.contains(arch)

    def mutate(self, arch: Sequence[int], rng: random.Random) -> list[int]:
        """Change one position to another allowed option, keeping a member of the parent; a fresh member when no
        single change gives one; unchanged when every position has a single option."""
        child = list(arch)
        free = [i for i, a in enumerate(self.allowed) if len(a) > 1]
        if not free:
            return child
        if not getattr(self.parent, "grammar_exact", False):  # a user's rules: walk to a member
            return member_near(child, self.allowed, self.parent.is_valid, self.sample, rng)
        for _ in range(100):  # the benchmark spaces' move, draw for draw as it always was
            i = rng.choice(free)
            cand = list(arch)
            cand[i] = rng.choice([j for j in self.allowed[i] if j != arch[i]] or self.allowed[i])
            if self.parent.is_valid(cand) and cand != list(arch):
                return cand
        return child

    def crossover(self, a, b, rng):
        c1, c2 = self.parent.crossover(a, b, rng)
        return (c1 if self.contains(c1) else list(a)), (c2 if self.contains(c2) else list(b))

    @property
    def positions_independent(self) -> bool:
        return bool(getattr(self.parent, "positions_independent", False))

    @property
    def grammar_exact(self) -> bool:
        return bool(getattr(self.parent, "grammar_exact", False))  # next_tokens enforces the allowed options

    def next_tokens(self, prefix: Sequence[str]) -> list[str]:
        toks = self.parent.next_tokens(prefix)
        i = len(prefix)
        if i >= len(self.allowed):
            return toks
        ok = self._allowed_tokens[i]
        return [t for t in toks if t == END or t in ok]

    def to_tokens(self, arch):
        return self.parent.to_tokens(arch)

    def from_tokens(self, tokens):
        return self.parent.from_tokens(tokens)

    @property
    def vocabulary(self) -> list[str]:
        return self.parent.vocabulary

    def key(self, arch):
        return self.parent.key(arch)

    def parse(self, text):
        return self.parent.parse(text)

    def describe(self) -> dict:
        return self.parent.describe()

    def to_module(self, arch, input_shape, num_classes):
        return self.parent.to_module(arch, input_shape, num_classes)

    def __getattr__(self, name):
        # NCode, networks, lengths, options ...: the parent's (only reached for names not defined here)
        if name in ("parent", "allowed", "_allowed_tokens"):
            raise AttributeError(name)
        return getattr(self.parent, name)

    def __repr__(self) -> str:
        return f"Subspace({self.parent.name!r}, {self.allowed_names()})"
