"""What runs around every request before a face sees it: the request context, CORS, HEAD, the
API key and its scope, the local-only guard, and the hot-path dispatch of the inference POSTs."""
