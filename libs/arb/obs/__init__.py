"""Observability and process runtime: hot-path logger, metrics, health endpoints, service lifecycle."""
