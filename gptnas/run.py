"""``python -m gptnas.run``: parse → config → search → report.

With no arguments it runs the embedded default: GPT-NAS (layer GPT + block classifier) on the block-chain space,
fitness = real training on scikit-learn's digits, on CPU (CUDA if present), a few minutes on 2 cores.

Examples::

    python -m gptnas.run --space nb201 --dataset cifar10 --fitness benchmark --data PATH \\
        --method rea --budget 100 --seed 0 --out runs/demo
    python -m gptnas.run --resume runs/demo
"""
from __future__ import annotations

import argparse
import errno
import logging
import sys
from pathlib import Path

import yaml

from .config import RESUME_OVERRIDES, SECTIONS, from_dict, load_yaml, set_dotted, validate
from .errors import ConfigError, GptnasError
from .core.terminal import progress_wanted

# flag -> dotted config key (the framework's; each method and wrapper brings its own: method_flags)
_FLAGS = {
    "space": "space", "dataset": "dataset", "fitness": "fitness", "data": "data", "seed": "seed", "out": "out",
    "workers": "workers", "parallel": "parallel", "ray_address": "ray_address", "threads": "threads",
    "method": "search.method", "budget": "search.budget", "budget_time": "search.budget_time",
    "eval_timeout": "search.eval_timeout",
    "order": "search.order", "generations": "search.generations", "epochs": "train.epochs",
    "device": "train.device", "dataset_dir": "train.data_root",
    "llm_url": "llm.url", "llm_model": "llm.model", "llm_replay": "llm.replay",
}


def method_flags() -> dict:
    """``dest -> (flag, [(class, option), ...])`` for every flag a registered method or wrapper owns, methods
    first (a flag several own sets the run's method's option; a wrapper's wraps a method that has none)."""
    from .methods.registry import all_classes
    out: dict = {}
    for cls in all_classes():
        for f in cls.flags:
            dest = f.flag.lstrip("-").replace("-", "_")
            out.setdefault(dest, (f, []))[1].append((cls, f.option))
    return out


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line (and where to read more), not the whole usage, with exit code 2."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (python -m gptnas.run --help for the flags)\n")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m gptnas.run", description="Run or resume an architecture search.")
    p.add_argument("--config", metavar="FILE", help="YAML config (flags override it)")
    top = p
    p = top.add_argument_group("space and fitness")
    p.add_argument("--space", help="search space: macro (GPT-NAS block chain, default) | nb201 (NAS-Bench-201) | "
                                   "tnb101 (TransNAS-Bench-101 micro) | nb101 | module:callable (your own: a space, "
                                   "or a factory returning one)")
    p.add_argument("--dataset", help="nb201 benchmark: cifar10 | cifar100 | imagenet16-120; tnb101 benchmark (tasks): "
                                     "class_scene | class_object | jigsaw | room_layout; train/proxy: cifar10 | "
                                     "cifar100 | fashion-mnist | mnist | digits | imagenet (--dataset-dir)")
    p.add_argument("--dataset-dir", dest="dataset_dir", metavar="DIR", help="image dataset directory (train/proxy)")
    p.add_argument("--epochs", type=int, help="train: epochs per candidate (default 6; 4 on digits)")
    p.add_argument("--device", help="train: auto | cpu | cuda | cuda:N")
    p.add_argument("--fitness", help="benchmark (tabular validation accuracy) | train (train each candidate) | "
                                     "proxy:NAME[+NAME] (zero-cost proxy, e.g. proxy:synflow+nwot) | "
                                     "module:callable (your own: a function arch -> fitness, or a class)")
    p.add_argument("--data", metavar="PATH",
                   help="benchmark release folder or imported .h5 table (default: $GPTNAS_DATA, else "
                        "~/.local/share/gptnas: python -m gptnas.bench download)")
    from .methods.registry import DEFAULT_METHOD, METHODS
    p = top.add_argument_group("method (each method's own options; the rest with --set METHOD.KEY=VALUE)")
    p.add_argument("--method", help=f"{' | '.join(METHODS)} (default {DEFAULT_METHOD}; each method's options are "
                                    "in its config section, e.g. --set rea.population=20)")
    for dest, (flag, owners) in method_flags().items():
        names = ", ".join(dict.fromkeys(cls.name for cls, _ in owners))
        p.add_argument(flag.flag, dest=dest, type=flag.type, metavar=flag.metavar, help=f"{names}: {flag.help}")
    p = top.add_argument_group("LLM (LAPT's principles, LM-Searcher's ranker: any OpenAI-compatible server)")
    p.add_argument("--llm-url", dest="llm_url", metavar="URL",
                   help="OpenAI-compatible server (default $OPENAI_BASE_URL), e.g. http://localhost:8000/v1; the key "
                        "comes from $OPENAI_API_KEY")
    p.add_argument("--llm-model", dest="llm_model", metavar="NAME", help="model name (default $OPENAI_MODEL)")
    p.add_argument("--llm-replay", dest="llm_replay", metavar="FILE",
                   help="rerun offline from a recorded llm_exchanges.jsonl")
    p = top.add_argument_group("budget and time")
    p.add_argument("--budget", type=int, help="unique architectures to evaluate")
    p.add_argument("--budget-time", dest="budget_time", metavar="DURATION",
                   help="no new evaluation starts after this much run time (90s, 30m, 8h, 1d); those in flight "
                        "finish (--set search.on_time=cancel stops them)")
    p.add_argument("--generations", type=int, help="optional cap on generations")
    p.add_argument("--seed", type=int, help="the run's seed (default 0): the same seed, the same result")
    p.add_argument("--eval-timeout", dest="eval_timeout", metavar="DURATION",
                   help="stop an evaluation still running after this long (90s, 30m, 2h) and record it as failed; "
                        "the search goes on")
    p = top.add_argument_group("workers")
    p.add_argument("--order", help="with --workers > 1: lag (default: the same result whatever the timing) | "
                                   "arrival (each result told as it comes; a resume replays the recorded order)")
    p.add_argument("--workers", type=int, help="evaluation processes (1 = serial)")
    p.add_argument("--threads", type=int, help="torch CPU threads of the search process (default 1; torch's "
                                               "choice when it trains networks itself)")
    p.add_argument("--parallel", help="serial | process | ray | simulated (a virtual clock: each evaluation takes the training time its result reports) (default: process when --workers > 1)")
    p.add_argument("--ray-address", dest="ray_address", metavar="ADDR",
                   help="Ray cluster to join (default $RAY_ADDRESS, else a local one)")
    p = top.add_argument_group("run directory")
    p.add_argument("--out", metavar="DIR", help="run directory (default runs/<method>-<space>-<dataset>-s<seed>, "
                                                 "with -2, -3 ... appended when taken)")
    top.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any config key, e.g. --set ga.cxpb=0.5 --set search.lag=2 (repeatable; a key of a "
                        "method the run does not use is refused)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    p.add_argument("--dry-run", action="store_true", help="check the flags, config keys, run directory and benchmark "
                                                          "data, say what would run, and stop: nothing is written")
    p.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last checkpoint; with "
                                                    "--budget N (at least the evaluations made) a finished run goes "
                                                    "on, and --workers / --parallel / --ray-address / --threads "
                                                    "may change; nothing else can")
    p = top.add_argument_group("output")
    bars = p.add_mutually_exclusive_group()
    bars.add_argument("--progress", action="store_true", help="progress bars even when stderr is not a terminal "
                                                               "(default: only on a terminal)")
    bars.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    return top


def parse_set(item: str) -> tuple[str, object]:
    """``--set KEY=VALUE``: the dotted key and the value read as YAML (``5``, ``true``, ``[a, b]``, ``null``)."""
    if "=" not in item:
        raise ConfigError(f"--set needs KEY=VALUE, got {item!r}")
    k, v = item.split("=", 1)
    k = k.strip()
    try:
        value = yaml.safe_load(v)
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {k}: cannot read {v!r} as a YAML value ({str(e).splitlines()[0]}): quote text, "
                          "e.g. --set 'llm.model=\"name\"'") from None
    if value is None and k in SECTIONS:
        raise ConfigError(f"--set {k}=null would drop the whole {k} section (and the flags that set its keys): set "
                          f"one key instead, e.g. --set {k}.KEY=VALUE")
    return k, value


def route_method_flags(args, d: dict) -> None:
    """Put each method flag given into the section of its owner: the run's method when it has the flag, else the
    wrapper that has it (which then wraps the method); one line when neither has it."""
    from .methods.registry import DEFAULT_METHOD, WRAPPERS
    method = (d.get("search") or {}).get("method") or DEFAULT_METHOD
    wrapped = {}
    for dest, (flag, owners) in method_flags().items():
        v = getattr(args, dest, None)
        if v is None:
            continue
        owner = next(((c, o) for c, o in owners if c.name == method), None) or \
            next(((c, o) for c, o in owners if c.name in WRAPPERS), None)
        if owner is None:
            names = ", ".join(dict.fromkeys(c.name for c, _ in owners))
            raise ConfigError(f"{flag.flag} is an option of {names}, and --method {method} has none: choose one "
                              f"of those methods, or leave {flag.flag} out")
        cls, option = owner
        set_dotted(d, f"{cls.name}.{option}", v)
        if cls.name in WRAPPERS:
            wrapped.setdefault(cls, []).append(flag.flag)
    for cls, given in wrapped.items():
        if not cls.active(d.get(cls.name) or {}):
            raise ConfigError(f"{', '.join(given)} with --method {method} needs {cls.switch} (what turns on "
                              f"{cls.name}), or a method that has {given[0]}")


def config_from_args(args):
    d = load_yaml(args.config) if args.config else {}
    for flag, key in _FLAGS.items():
        v = getattr(args, flag)
        if v is not None:
            set_dotted(d, key, v)
    route_method_flags(args, d)
    for item in args.set:
        set_dotted(d, *parse_set(item))
    named = {parse_set(item)[0].split(".")[0]: parse_set(item)[0] for item in args.set}
    cfg = validate(from_dict(d), strict_sections=named)
    if not cfg.out:  # a fresh directory each time: the default never touches an earlier run
        from pathlib import Path
        space = cfg.space.split(":")[-1].split(".")[-1]  # mypkg.spaces:make_space -> make_space
        target = f"-{cfg.dataset}" if cfg.dataset else ""
        base = f"runs/{cfg.search.method}-{space}{target}-s{cfg.seed}"
        cfg.out, n = base, 1
        while Path(cfg.out).exists() and not args.overwrite:
            n += 1
            cfg.out = f"{base}-{n}"
    return cfg


DISK_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES}


def resume_overrides(args) -> dict:
    """What ``--resume`` is given besides the run: the flags and ``--set`` keys that may change, refused one by one
    otherwise (a flag a resume ignored would be a run silently not what was asked)."""
    if args.config:
        raise ConfigError("--config cannot be given with --resume: the run's own config.yaml is its config")
    if args.overwrite:
        raise ConfigError("--overwrite starts a new run and --resume continues one: give one of them")
    out = {}
    for dest, (flag, _) in method_flags().items():
        if getattr(args, dest, None) is not None:
            raise ConfigError(f"{flag.flag} cannot change when resuming (the run's config.yaml fixes it): "
                              "--resume takes --budget, --budget-time, --workers, --parallel, --ray-address and "
                              "--threads; start a new run with --out for other settings")
    for flag, key in _FLAGS.items():
        v = getattr(args, flag)
        if v is None:
            continue
        if key not in RESUME_OVERRIDES:
            raise ConfigError(f"--{flag.replace('_', '-')} cannot change when resuming (the run's config.yaml "
                              "fixes it): --resume takes --budget, --budget-time, --workers, --parallel, "
                              "--ray-address and --threads; start a new run with --out for other settings")
        out[key] = v
    for item in args.set:
        k, v = parse_set(item)
        if k not in RESUME_OVERRIDES:
            raise ConfigError(f"--set {k} cannot change when resuming (the run's config.yaml fixes it): resume takes "
                              f"{', '.join(RESUME_OVERRIDES)}")
        out[k] = v
    return out


def dry_run(cfg, overwrite: bool = False) -> int:
    """``--dry-run``: what :func:`~gptnas.search.driver.start` checks before any work — the configuration (already
    validated), the run directory, the benchmark data — then one line saying what would run. Nothing is written."""
    from .config import resolve_paths
    from .search.driver import check_new
    resolve_paths(cfg)
    check_new(cfg.out, overwrite)
    where = cfg.space
    if getattr(cfg, "fitness_kind", cfg.fitness) == "benchmark":
        from .bench import resolve_benchmark_path
        where += f" (table {resolve_benchmark_path(cfg.data, cfg.space)})"
    print(f"would run: {cfg.search.method} on {where}, dataset {cfg.dataset}, fitness {cfg.fitness}, budget "
          f"{cfg.search.budget}, seed {cfg.seed}, {cfg.workers} worker(s) -> {cfg.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING if args.quiet else logging.INFO)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(console)
    logging.getLogger("gptnas").setLevel(logging.DEBUG)  # log.txt gets every generation; the console less
    from .search import driver  # heavy imports after argument parsing, so --help is instant

    target = args.resume
    try:
        if args.resume:
            rd, state = driver.resume(args.resume, progress=progress_wanted(args.progress, args.no_progress),
                                       overrides=resume_overrides(args))
        else:
            cfg = config_from_args(args)
            target = cfg.out
            if args.dry_run:
                return dry_run(cfg, args.overwrite)
            rd, state = driver.start(cfg, overwrite=args.overwrite,
                                     progress=progress_wanted(args.progress, args.no_progress))
    except GptnasError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: every finished evaluation is saved; continue with "
              f"python -m gptnas.run --resume {target}", file=sys.stderr)
        return 130
    except OSError as e:  # the disk, not the run: full, read-only, permissions; anything else keeps its traceback
        if e.errno == errno.ENOENT and target and not Path(target).exists():
            print(f"error: the run directory {target} disappeared while the run was writing to it: nothing more "
                  "can be saved there; start the run again", file=sys.stderr)
            return 2
        if e.errno not in DISK_ERRORS:
            raise
        where = f" ({e.filename})" if e.filename else ""
        more = f"; what was saved resumes with python -m gptnas.run --resume {target}" if target else ""
        print(f"error: {e.strerror or e}{where}: free space or choose a writable --out{more}", file=sys.stderr)
        return 2
    s = rd.read_summary()
    best = s["best"]
    empty = s.get("generations_without_new", 0)
    print(f"status: {s['status']}, {s['evaluations']} evaluations in {s['generations']} generations"
          + (f" ({empty} of them proposed only architectures evaluated before: no budget spent)" if empty else "")
          + f", {s['wall_time_s']:.1f} s")
    if best:
        test = "n/a" if best["test"] is None else f"{best['test']:.4f}"
        print(f"best architecture: {best['arch']}")
        print(f"best fitness ({s.get('fitness_name', s['fitness_kind'])}): {best['fitness']:.4f}   test accuracy: {test}"
              f"   found after {best['found_after']} evaluations")
        if "rank" in best:
            print(f"in the benchmark table: rank {best['rank']} of {s['table']['architectures']}, "
                  f"regret {best['regret']:.4f} (the table's best: {s['table']['best_fitness']:.4f})")
    print(f"run directory: {rd.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
