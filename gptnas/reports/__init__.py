"""What a person looks at: run summaries, convergence plots, and comparisons over many runs."""
