"""MEXC Spot v3 wire structs (REST JSON and WS control replies), with the venue's sample payloads.

Binary WS pushes are protobuf ``PushDataV3ApiWrapper`` messages (``proto.gen.mexc``); see ``parse``.
Every struct here ignores unknown fields (MEXC adds fields) and gives defaults to fields MEXC may omit.
Order ids are strings (hex or ``C02__...``) but some examples show numbers: both are accepted.
"""

from __future__ import annotations

import msgspec

# ---------------------------------------------------------------- REST: public


class ServerTime(msgspec.Struct, frozen=True):
    """``GET /api/v3/time`` -> ``{"serverTime" : 1645539742000}``"""

    serverTime: int


class SymbolRaw(msgspec.Struct, frozen=True):
    """One entry of ``GET /api/v3/exchangeInfo`` ``symbols`` (docs example)::

    {"symbol":"TOMO3LUSDT","status":"ENABLED","baseAsset":"TOMO3L","baseAssetPrecision":2,"quoteAsset":"USDT",
     "quotePrecision":3,"quoteAssetPrecision":3,"baseCommissionPrecision":2,"quoteCommissionPrecision":3,
     "orderTypes":["LIMIT","LIMIT_MAKER"],"quoteOrderQtyMarketAllowed":false,"isSpotTradingAllowed":false,
     "isMarginTradingAllowed":false,"quoteAmountPrecision":"5","baseSizePrecision":"0.0001",
     "permissions":["SPOT","LIMIT"],"filters":[],"maxQuoteAmount":"5000000","makerCommission":"0.002",
     "takerCommission":"0.002","tradeSideType":"1"}

    ``status``: "1" online / "2" pause / "3" offline, or "ENABLED" (both seen). ``quoteAmountPrecision`` is
    the minimum order amount in quote, ``baseSizePrecision`` the minimum quantity (docs' own definitions).
    """

    symbol: str
    status: str | int = "1"
    baseAsset: str = ""
    quoteAsset: str = ""
    baseAssetPrecision: int | None = None
    quotePrecision: int | None = None
    quoteAssetPrecision: int | None = None
    quoteAmountPrecision: str | None = None
    baseSizePrecision: str | None = None
    maxQuoteAmount: str | None = None
    makerCommission: str | None = None
    takerCommission: str | None = None
    isSpotTradingAllowed: bool = True
    tradeSideType: str | int = "1"
    orderTypes: list[str] = []
    filters: list[dict] = []


class ExchangeInfo(msgspec.Struct, frozen=True):
    """``GET /api/v3/exchangeInfo``: ``timezone``, ``serverTime``, ``rateLimits``, ``symbols:[...]``."""

    symbols: list[SymbolRaw] = []
    serverTime: int = 0


class Depth(msgspec.Struct, frozen=True):
    """``GET /api/v3/depth`` -> ``{"lastUpdateId": 1112416, "bids": [["15.00000", "49999.00000"]], "asks": [["14.0000", "1.0000"]]}``"""

    lastUpdateId: int
    bids: list[tuple[str, str]] = []
    asks: list[tuple[str, str]] = []


# ``GET /api/v3/klines`` row (docs, "Kline/Candlestick Data"): [open time ms, open, high, low, close, volume (base),
# close time ms, quote asset volume]::
#
#   [[1640804880000,"47482.36","47482.36","47416.57","47436.1","3.550717",1640804940000,"168387.3"]]
KlineRow = list[int | float | str]


# ---------------------------------------------------------------- REST: private


class OrderRaw(msgspec.Struct, frozen=True):
    """``POST /api/v3/order`` reply (docs)::

        {"symbol":"MXUSDT","orderId":"06a480e69e604477bfb48dddd5f0b750","orderListId":-1,"price":"0.1",
         "origQty":"50","type":"LIMIT","side":"BUY","transactTime":1666676533741}

    ``GET /api/v3/order`` / ``openOrders`` / ``DELETE order`` (docs; the query example says ``Qty``)::

        {"symbol":"LTCBTC","orderId":1,"orderListId":-1,"clientOrderId":"myOrder1","price":"0.1","origQty":"1.0",
         "executedQty":"0.0","cummulativeQuoteQty":"0.0","status":"NEW","timeInForce":"GTC","type":"LIMIT",
         "side":"BUY","stopPrice":"0.0","time":1499827319559,"updateTime":1499827319559,"isWorking":true,
         "origQuoteOrderQty":"0.000000"}
    """

    symbol: str = ""
    orderId: str | int = ""
    clientOrderId: str | None = None
    origClientOrderId: str | None = None
    price: str | None = None
    origQty: str | None = None
    Qty: str | None = None
    executedQty: str | None = None
    cummulativeQuoteQty: str | None = None
    status: str | None = None
    type: str | None = None
    side: str = ""
    time: int | None = None
    updateTime: int | None = None
    transactTime: int | None = None


class BalanceRaw(msgspec.Struct, frozen=True):
    asset: str
    free: str = "0"
    locked: str = "0"


class AccountRaw(msgspec.Struct, frozen=True):
    """``GET /api/v3/account`` (docs)::

    {"canTrade":true,"canWithdraw":true,"canDeposit":true,"updateTime":null,"accountType":"SPOT",
     "balances":[{"asset":"NBNTEST","free":"1111078","locked":"33"}],"permissions":["SPOT"]}
    """

    balances: list[BalanceRaw] = []
    updateTime: int | None = None


class TradeRaw(msgspec.Struct, frozen=True):
    """``GET /api/v3/myTrades`` item (docs)::

    {"symbol":"BNBBTC","id":"fad2...","orderId":"bb41...","orderListId":-1,"price":"4.00000100","qty":"12.00000000",
     "quoteQty":"48.000012","commission":"10.10000000","commissionAsset":"BNB","time":1499865549590,
     "isBuyer":true,"isMaker":false,"isBestMatch":true,"isSelfTrade":true,"clientOrderId":null}
    """

    symbol: str
    id: str | int
    orderId: str | int
    price: str
    qty: str
    commission: str = "0"
    commissionAsset: str = ""
    time: int = 0
    isBuyer: bool = False
    isMaker: bool = False
    clientOrderId: str | None = None


class ListenKey(msgspec.Struct, frozen=True):
    """``POST/PUT/DELETE /api/v3/userDataStream`` -> ``{"listenKey": "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"}``"""

    listenKey: str


class ErrorBody(msgspec.Struct, frozen=True):
    """``{"code":700002,"msg":"Signature for this request is not valid."}`` (HTTP 400)."""

    code: int | str | None = None
    msg: str | None = None


# ---------------------------------------------------------------- WS control (text frames)


class Control(msgspec.Struct, frozen=True):
    """Acks: ``{"id":0,"code":0,"msg":"spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT"}``, ``{"id":0,"code":0,"msg":"PONG"}``.

    A refused channel (live MEXC): ``{"id":0,"code":0,"msg":"Not Subscribed successfully! [...].  Reason： Blocked!"}``.
    """

    id: int = 0
    code: int = 0
    msg: str = ""


class Subscribe(msgspec.Struct, frozen=True):
    """``{"method": "SUBSCRIPTION", "params": ["spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT"]}``"""

    method: str
    params: list[str]
