"""The team REST API: app factory, key store, auth, routes, SSE and the server."""
