"""The search engine: DEAP types, explicit generators, methods, the generation loop, start/resume."""
