"""A user's pure-Python fitness for ``parallel_efficiency.py --startup``: sleeps 0.2–0.8 s, by the architecture's
hash (the same architecture always sleeps as long), and returns that hash as its fitness."""
import hashlib
import time


def fit(arch) -> float:
    h = int(hashlib.sha1(str(arch).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    time.sleep(0.2 + 0.6 * h)
    return h
