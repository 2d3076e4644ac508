"""OpenAI's Responses API, /v1/responses (routes, parse: wire → domain, render: domain → wire, tools: the tool offer)."""
