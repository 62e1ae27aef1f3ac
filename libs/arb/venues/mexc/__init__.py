"""MEXC Spot v3: symbols, wire schemas, parsing, REST, WS, signing, errors, and the two gateways.

``public.build_public`` (market data, no key) and ``private.build_private`` (one account's trading) are
loaded lazily by ``arb.venues.factory``; this package imports neither, so a market-data process never
imports trading code and the reverse.
"""
