"""Gate.io APIv4 wire layer of the simulator: spot + USDT perpetual REST (/api/v4) and WS v4.

Written from Gate's docs (exchange-facts.md PART 2), never from our gateway code. ``app.build_app(ctx)``
serves REST under ``/api/v4``, spot WS at ``/ws/v4/`` and USDT futures WS at ``/v4/ws/usdt``.
"""
