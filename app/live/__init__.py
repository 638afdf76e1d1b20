"""Live transports (WebSocket, SSE): catch-up from the change log, then the hub's stream."""
