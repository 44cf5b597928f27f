"""``gptnas``: one command with a subcommand per job; each is also ``python -m gptnas.<module>``, as before.

    gptnas run --space nb201 --data DIR --method rea --budget 100
    gptnas resume runs/x --budget 200            # = gptnas run --resume runs/x --budget 200
    gptnas final runs/x --onnx
    gptnas --version
"""
from __future__ import annotations

import importlib
import sys

#: subcommand -> (module whose ``main(argv)`` it runs, what it does)
COMMANDS = {
    "run": ("gptnas.run", "run a search (python -m gptnas.run)"),
    "resume": ("gptnas.run", "continue a run directory: gptnas resume DIR [--budget N] [--budget-time T] ..."),
    "final": ("gptnas.final", "train the best architecture the long way, save and export it"),
    "report": ("gptnas.report", "compare runs: tables and plots"),
    "bench": ("gptnas.bench.__main__", "download, import, inspect and query benchmark tables"),
    "principles": ("gptnas.principles", "LAPT's design principles outside a search: extract, export"),
    "rank": ("gptnas.rank", "LM-Searcher's ranking data and ranker outside a search"),
    "ask": ("gptnas.ask", "ask an open study for the next architecture (your own scheduler)"),
    "tell": ("gptnas.tell", "tell an open study a result"),
}


def usage() -> str:
    from . import __version__
    width = max(map(len, COMMANDS))
    lines = [f"gptnas {__version__}: evolutionary neural architecture search", "",
             "usage: gptnas COMMAND [ARGS ...]    (gptnas COMMAND --help for its options)", "", "commands:"]
    lines += [f"  {name:<{width}}  {what}" for name, (_, what) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] in ("--version", "-V"):
        from . import __version__
        print(f"gptnas {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"error: unknown command {name!r}: choose one of {', '.join(COMMANDS)} (gptnas --help)",
              file=sys.stderr)
        return 2
    if name == "resume":
        if not rest or rest[0].startswith("-"):
            if rest and rest[0] in ("-h", "--help"):
                print("usage: gptnas resume RUN_DIR [--budget N] [--budget-time T] [--workers N] ...\n\n"
                      "Continue a run directory; the options are gptnas run's that --resume takes.")
                return 0
            print("error: gptnas resume needs the run directory: gptnas resume RUN_DIR [--budget N ...]",
                  file=sys.stderr)
            return 2
        rest = ["--resume", *rest]
    module = importlib.import_module(COMMANDS[name][0])
    return module.main(rest)


if __name__ == "__main__":
    sys.exit(main())
