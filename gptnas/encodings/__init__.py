"""How architectures are written down: NAS-Bench-201 strings, indices, NASLib tuples, NCode, token vocabularies."""
