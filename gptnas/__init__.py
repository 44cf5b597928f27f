"""gptnas: evolutionary neural architecture search with a generative pre-trained proposal model."""

__version__ = "0.1.0"
