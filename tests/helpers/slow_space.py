"""Objects the run-directory tests name on the command line (tests.helpers.slow_space:...)."""
import os
import time

from gptnas.spaces import CategoricalSequenceSpace

space = CategoricalSequenceSpace([["a", "b", "c", "d"]] * 5, name="slow5")


def evaluate(arch):
    """A slow evaluation that appends its key to $SLOW_CALLS (so a test counts how often it ran)."""
    time.sleep(float(os.environ.get("SLOW_SECONDS", "0.05")))
    with open(os.environ["SLOW_CALLS"], "a") as f:
        f.write(space.key(arch) + "\n")
    return float(sum(arch))


def always_fails(arch):
    raise RuntimeError("the instrument is unplugged")


def torch_threads(arch):
    """The search process's torch thread count as fitness (a test reads what --threads set)."""
    import torch
    return float(torch.get_num_threads())
