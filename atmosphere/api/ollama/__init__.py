"""The Ollama face: Ollama's native /api/* (routes, parse: wire → domain, render: domain → wire)."""
