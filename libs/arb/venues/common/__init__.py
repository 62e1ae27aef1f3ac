"""Venue-neutral gateway building blocks: L2 book, book sync rules, WS connection manager, REST client, metrics."""
