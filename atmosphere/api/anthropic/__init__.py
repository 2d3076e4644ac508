"""The Anthropic face: Messages at /v1/messages (routes, parse: wire → domain, render: domain → wire)."""
