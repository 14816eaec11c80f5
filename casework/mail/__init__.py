"""Outbound e-mail: rows with an idempotency key, composed and sent by the worker."""
