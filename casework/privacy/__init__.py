"""Personal data: erasure (on request, on expiry, by retention) and the export of what is held about a consumer."""
