"""Atmosphere: a local AI gateway in front of LlamaFarm and Ollama."""

__version__ = "0.1.0"
