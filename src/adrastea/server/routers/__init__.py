"""HTTP and WebSocket routers, one module per API area."""
