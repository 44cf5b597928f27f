"""LAPT's prompt chain, generated from the space's own description (so it works on a user's space too).

The chain (after Zhou et al., AAAI 2025): the architecture space is described — for a cell, its nodes, edges and
operations and a PyTorch-style forward — then the source's best architectures are listed as
``layer_list=[op0, ..., opN]`` with their option indices, and the model is asked to (1) analyse the information
flow, (2) find the common patterns, (3) state design principles, (4) suggest the available operations for each
layer, at most ``m`` per layer, as one JSON object. Adaptation prompts give back the target's best architectures
(the best improved) or ask for other operations (it did not). The wording is ours.
"""
from __future__ import annotations

from .decisions import is_chain, positions_of

SYSTEM = "You are an expert in neural network design. You reason step by step and answer precisely."


def describe(space) -> str:
    """The space in words: its own ``prompt_description()`` where it has one, else its positions and options."""
    names, options = positions_of(space)
    text = space.prompt_description() if hasattr(space, "prompt_description") else \
        f"An architecture makes {len(names)} decisions, one per layer (position), in this order."
    head = ("An architecture is written as layer_list = [block, block, ...], the block types' indices in chain "
            "order. The decision and its candidates:") if is_chain(space) else \
        (f"An architecture is written as layer_list = [op0, ..., op{len(names) - 1}], one operation index per "
         "layer. The layers and their candidate operations:")
    lines = [text, "", head]
    for i, (name, opts) in enumerate(zip(names, options)):
        lines.append(f"  layer{i} ({name}): " + ", ".join(f"{j}: {o}" for j, o in enumerate(opts)))
    return "\n".join(lines)


def answer_format(space, m: int) -> str:
    """How to answer. The example holds placeholders, never operations: a real option there would suggest an
    answer (the first options of each layer, which a model tends to copy)."""
    names, _ = positions_of(space)
    last = len(names) - 1
    example = "{" + ", ".join(f'"layer{i}": ["<operation>", ...]' for i in range(min(2, len(names)))) + \
        (f', ..., "layer{last}": [...]' if last >= 2 else "") + "}"
    return ("Answer with one JSON object (and nothing else after it) mapping every layer to the list of its "
            f"available operations, by name, at most {m} per layer: {example}, for all {len(names)} layers.")


def extraction(space, archs: list[list[int]], m: int, source: str) -> str:
    listed = "\n".join(f"layer_list={list(a)}" for a in archs)
    return (f"Your task is to learn design principles from a set of neural architectures.\n\n{describe(space)}\n\n"
            "Let's work step by step.\n"
            "First, analyse the information flow in the architecture.\n"
            f"Then, here are the layer_list of the {len(archs)} best-performing architectures on {source}:\n"
            f"{listed}\n"
            "Analyse the common patterns among them and explain them.\n"
            "Next, infer the design principles of the top architectures from these patterns.\n"
            "Finally, following these principles, suggest the available operations for each layer to build "
            f"top-performing architectures (no more than {m} per layer). {answer_format(space, m)}")


def update(space, archs: list[list[int]], m: int) -> str:
    listed = "\n".join(f"layer_list={list(a)}" for a in archs)
    return ("With the available operations you suggested, these architectures performed best on the new task:\n"
            f"{listed}\nUpdate the design principles based on them, and suggest the available operations for each "
            f"layer to build better architectures. {answer_format(space, m)}")


def widen(space, m: int) -> str:
    return ("With the available operations you suggested, no better architecture was found on the new task. "
            "Following your original design principles, suggest other available operations for each layer "
            f"(you may keep some of the current ones). {answer_format(space, m)}")


def fix(error: str, space, m: int) -> str:
    return f"Your answer could not be used: {error}. {answer_format(space, m)}"
