"""HTTP and WebSocket API: translates requests into executor and registry calls."""
