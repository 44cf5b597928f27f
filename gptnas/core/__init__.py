"""The bottom layer every other part may import: random generators (:mod:`.rng`), the DEAP individual type
(:mod:`.types`), the search-so-far view methods read (:mod:`.history`), where caches live (:mod:`.paths`) and how
a worker's visible GPUs are named (:mod:`.devices`). Nothing here imports torch at import time."""
