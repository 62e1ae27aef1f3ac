"""Venue adapters: ``common`` (venue-neutral building blocks), then one folder per venue."""
