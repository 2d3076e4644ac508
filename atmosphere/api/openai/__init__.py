"""The OpenAI face: ``/v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings``,
``/v1/models`` (routes, parse: wire → domain, render: domain → wire), and the Responses API
in ``responses/``."""
