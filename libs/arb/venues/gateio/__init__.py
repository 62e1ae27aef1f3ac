"""Gate.io API v4 gateways: spot and USDT perpetual futures (one folder, ``market`` chooses).

``public.build_public`` (market data, no key) and ``private.build_private`` (one account's trading); the two
never import each other. Wire facts: shared/exchange-facts.md PART 2.
"""
