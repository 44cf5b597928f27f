"""GPT-NAS's DEAP operators: the GPT's reconstruction, its local move, the junction-repairing crossover, initial
populations sampled from the GPT, the adaptive operator mix, the elimination-rate schedule; :mod:`.toolbox` registers
them next to DEAP's own."""
