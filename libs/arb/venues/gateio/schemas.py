"""Gate.io API v4 wire structs (spot and USDT perpetual futures), one per payload we read.

Sample payloads are the venue's own (``shared/exchange-facts.md`` PART 2, section given per struct).
Rules that shape these structs:

* Unknown fields are ignored (Gate adds fields over time); every field we do not strictly need has a default.
* Gate sends sizes as JSON numbers *or* strings (futures decimal sizes, facts §2.6 / PART 3 #10), so size
  fields are ``str | int | float`` and are converted exactly (``Decimal(str(x))``) or to float at the parser.
* WS frames are decoded once into a union of the typed frames tagged by ``channel`` (msgspec finds the tag
  wherever it sits): routing and typed decode in one pass, measured ~0.4 us cheaper per frame than a separate
  ``Route`` view decode followed by a typed decode. Frames that are not updates of a known channel (acks, pongs,
  errors) fail that decode and are read as ``Control``.
* Hot-path book levels decode straight to floats (``strict=False`` decoders accept Gate's decimal strings):
  market data is an observation (specs/numbers.md); nothing decoded here as float is ever sent back.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

Num = str | int | float  # a Gate number that may arrive as a JSON number or a decimal string


# ---------------------------------------------------------------------------------------------- WS envelope


class Route(msgspec.Struct, gc=False):
    """Routing view of every WS frame: ``{"time":..,"channel":"spot.book_ticker","event":"update",...}``."""

    channel: str = ""
    event: str = ""


class WsError(msgspec.Struct, gc=False):
    code: int = 0
    message: str = ""


class Control(msgspec.Struct, gc=False):
    """Subscribe/unsubscribe acks, pongs and errors (facts §2.7)::

    {"time":1611541000,"time_ms":1611541000001,"channel":"spot.orders","event":"subscribe","error":null,"result":{"status":"success"}}
    {"time":..,"channel":"spot.orders","event":"subscribe","error":{"code":4,"message":"..."},"result":null}
    """

    channel: str = ""
    event: str = ""
    time: int = 0
    error: WsError | None = None
    payload: Any = None


# ---------------------------------------------------------------------------------------------- spot public WS


class SpotBookTicker(msgspec.Struct, gc=False):
    """spot.book_ticker result (facts §2.8)::

    {"t":1606293275123,"u":48733182,"s":"BTC_USDT","b":"19177.79","B":"0.0003341504","a":"19179.38","A":"0.09"}
    """

    s: str
    b: float
    B: float
    a: float
    A: float
    t: int = 0
    u: int = 0


class SpotBookTickerFrame(msgspec.Struct, gc=False, tag_field="channel", tag="spot.book_ticker"):
    result: SpotBookTicker
    time_ms: int = 0
    event: str = ""


class SpotBookUpdate(msgspec.Struct, gc=False):
    """spot.order_book_update result (facts §2.8; ``full`` pushes replace the book)::

    {"t":1606294781123,"full":true,"l":"100","e":"depthUpdate","E":1606294781,"s":"BTC_USDT","U":48776301,"u":48776306,
     "b":[["19137.74","0.0001"],["19088.37","0"]],"a":[["19137.75","0.6135"]]}
    """

    s: str
    U: int
    u: int
    b: list[tuple[float, float]] = []
    a: list[tuple[float, float]] = []
    t: int = 0
    full: bool = False


class SpotBookUpdateFrame(msgspec.Struct, gc=False, tag_field="channel", tag="spot.order_book_update"):
    result: SpotBookUpdate
    time_ms: int = 0
    event: str = ""


class SpotTrade(msgspec.Struct, gc=False):
    """spot.trades result (facts §2.8)::

    {"id":309143071,"id_market":2390902,"create_time":1606292218,"create_time_ms":"1606292218213.4578","side":"sell",
     "currency_pair":"GT_USDT","amount":"16.4700000000","price":"0.4705000000","range":"2390902-2390902"}
    """

    id: int
    currency_pair: str
    side: str
    amount: float
    price: float
    create_time_ms: float = 0.0
    create_time: int = 0


class SpotTradeFrame(msgspec.Struct, gc=False, tag_field="channel", tag="spot.trades"):
    result: SpotTrade
    time_ms: int = 0
    event: str = ""


class SpotCandle(msgspec.Struct, gc=False):
    """spot.candlesticks result (Gate Spot WS v4 docs, "Candlesticks Channel"; payload ``[interval, cp]``): one
    candle per frame; ``t`` the window's start (unix s, a string), ``v`` the volume in the QUOTE currency ("Total
    volume"), ``a`` the base currency amount, ``n`` ``<interval>_<cp>``, ``w`` true once the window is closed ("true
    may be missing")::

    {"t":"1606292580","v":"2362.32035","c":"19128.1","h":"19128.1","l":"19128.1","o":"19128.1","n":"1m_BTC_USDT",
     "a":"3.8283","w":true}
    """

    t: int
    o: Num
    h: Num
    l: Num
    c: Num
    n: str
    v: Num = 0
    a: Num = 0
    w: bool = False


class SpotCandlesFrame(msgspec.Struct, gc=False, tag_field="channel", tag="spot.candlesticks"):
    """{"time":1606292600,"time_ms":1606292600376,"channel":"spot.candlesticks","event":"update","result":{...}}"""

    result: SpotCandle
    time_ms: int = 0
    event: str = ""


# ---------------------------------------------------------------------------------------------- futures public WS


class FuturesBookTicker(msgspec.Struct, gc=False):
    """futures.book_ticker result (facts §2.9; ``b``/``a`` are "" when the side is empty)::

    {"t":1615366379123,"u":2517661076,"s":"BTC_USD","b":"54696.6","B":37000,"a":"54696.7","A":47061}
    """

    s: str
    b: Num
    B: Num
    a: Num
    A: Num
    t: int = 0
    u: int = 0


class FuturesBookTickerFrame(msgspec.Struct, gc=False, tag_field="channel", tag="futures.book_ticker"):
    result: FuturesBookTicker
    time_ms: int = 0
    event: str = ""


class FLevel(msgspec.Struct, gc=False, array_like=False):
    """A futures book level ``{"p":"54672.1","s":58794}`` (``s`` contracts; a string under decimal sizes)."""

    p: float
    s: float


class FuturesBookUpdate(msgspec.Struct, gc=False):
    """futures.order_book_update result (facts §2.9)::

    {"t":1615366381417,"s":"BTC_USD","U":2517661101,"u":2517661113,"b":[{"p":"54672.1","s":0},{"p":"54664.5","s":58794}],
     "a":[{"p":"54743.6","s":0},{"p":"54742","s":95}],"l":"100"}
    """

    s: str
    U: int
    u: int
    b: list[FLevel] = []
    a: list[FLevel] = []
    t: int = 0
    full: bool = False


class FuturesBookUpdateFrame(msgspec.Struct, gc=False, tag_field="channel", tag="futures.order_book_update"):
    result: FuturesBookUpdate
    time_ms: int = 0
    event: str = ""


class FuturesTrade(msgspec.Struct, gc=False):
    """futures.trades item (size > 0 taker buy, < 0 taker sell; facts §2.9)::

    {"size":-108,"id":27753479,"create_time":1545136464,"create_time_ms":1545136464123,"price":"96.4","contract":"BTC_USD","is_internal":true}
    """

    id: int
    contract: str
    size: float
    price: float
    create_time_ms: float = 0.0
    create_time: float = 0.0


class FuturesTradesFrame(msgspec.Struct, gc=False, tag_field="channel", tag="futures.trades"):
    result: list[FuturesTrade]
    time_ms: int = 0
    event: str = ""


class FuturesTicker(msgspec.Struct, gc=False):
    """futures.tickers item (facts §2.9). ``funding_rate`` is the rate applied at the next funding time;
    ``funding_rate_indicative`` is a deprecated estimate and is never read as the current rate::

    {"contract":"BTC_USD","last":"118.4","change_percentage":"0.77","funding_rate":"-0.000114","funding_rate_indicative":"0.01875",
     "mark_price":"118.35","index_price":"118.36","total_size":"73648","volume_24h":"745487577", ...}
    """

    contract: str
    funding_rate: str = ""
    mark_price: str = ""
    index_price: str = ""
    last: str = ""


class FuturesTickersFrame(msgspec.Struct, gc=False, tag_field="channel", tag="futures.tickers"):
    result: list[FuturesTicker]
    time_ms: int = 0
    event: str = ""


class PublicLiquidate(msgspec.Struct, gc=False):
    """futures.public_liquidates item (Gate Futures WS v4 docs, "Public liquidation order channel"): one liquidation
    order, ``size`` the order's contracts (< 0 sell: a long was liquidated; a JSON integer without
    ``X-Gate-Size-Decimal: 1``, a decimal string with it), ``price`` the order price. ``time`` was seconds in the
    docs before 2026-08 and is milliseconds since (both are read; ``time_ms`` is the older docs' field name)::

    {"price":"215.1","size":"-124.5","time":1541486601123,"contract":"BTC_USDT"}
    """

    contract: str
    price: Num
    size: Num
    time: int | float = 0  # int kept exact: ms * 1_000_000 as a float would lose the last digits
    time_ms: int | float = 0


class FuturesLiquidatesFrame(msgspec.Struct, gc=False, tag_field="channel", tag="futures.public_liquidates"):
    """{"channel":"futures.public_liquidates","event":"update","time":1541505434,"time_ms":1541505434123,
    "result":[{"price":"215.1","size":"-124.5","time":1541486601123,"contract":"BTC_USDT"}]}"""

    result: list[PublicLiquidate]
    time_ms: int = 0
    event: str = ""


class FuturesCandle(msgspec.Struct, gc=False):
    """futures.candlesticks item (Gate Futures WS v4 docs, "Candlesticks channel"; payload ``[interval, contract]``):
    ``t`` the window's start (unix s), ``v`` volume in contracts, ``n`` ``<interval>_<contract>``, ``w`` true once
    the window is closed (newer docs; absent before)::

    {"t":1545129300,"v":27525555,"c":"95.4","h":"96.9","l":"89.5","o":"94.3","n":"1m_BTC_USD","a":"314732.87412","w":false}
    """

    t: int
    o: Num
    h: Num
    l: Num
    c: Num
    n: str
    v: Num = 0
    w: bool = False


class FuturesCandlesFrame(msgspec.Struct, gc=False, tag_field="channel", tag="futures.candlesticks"):
    result: list[FuturesCandle]
    time_ms: int = 0
    event: str = ""


# ---------------------------------------------------------------------------------------------- public REST


class CurrencyPair(msgspec.Struct):
    """GET /spot/currency_pairs item (facts §2.5)::

    {"id":"ETH_USDT","base":"ETH","base_name":"Ethereum","quote":"USDT","quote_name":"Tether","fee":"0.2","min_base_amount":"0.001",
     "min_quote_amount":"1.0","max_base_amount":"10000","max_quote_amount":"10000000","amount_precision":3,"precision":6,
     "trade_status":"tradable","sell_start":1516378650,"buy_start":1516378650,"delisting_time":0,...}
    """

    id: str
    base: str
    quote: str
    fee: str | None = None
    min_base_amount: str | None = None
    min_quote_amount: str | None = None
    max_base_amount: str | None = None
    max_quote_amount: str | None = None
    amount_precision: int = 8
    precision: int = 8
    trade_status: str = "tradable"
    delisting_time: int = 0


class Contract(msgspec.Struct):
    """GET /futures/usdt/contracts item (facts §2.6)::

    {"name":"BTC_USDT","type":"direct","quanto_multiplier":"0.0001","order_price_round":"0.1","order_size_min":1,
     "order_size_max":1000000,"funding_rate":"0.002053","funding_interval":28800,"funding_next_apply":1610035200,
     "maker_fee_rate":"-0.00025","taker_fee_rate":"0.00075","in_delisting":false,"status":"trading",...}
    """

    name: str
    quanto_multiplier: str
    order_price_round: str
    order_size_min: Num = 1
    order_size_max: Num = 0
    maker_fee_rate: str = "0"
    taker_fee_rate: str = "0"
    funding_rate: str = "0"
    funding_interval: int = 28800
    funding_next_apply: float = 0
    mark_price: str = ""
    index_price: str = ""
    in_delisting: bool = False
    status: str = "trading"
    enable_decimal: bool = False
    type: str = "direct"


class SpotOrderBook(msgspec.Struct):
    """GET /spot/order_book?with_id=true (``current``/``update`` ms ints; facts §2.5)::

    {"id":123456,"current":1623898993123,"update":1623898993121,"asks":[["1.52","1.151"],["1.53","1.218"]],"bids":[["1.17","201.863"]]}
    """

    id: int
    bids: list[tuple[float, float]] = []
    asks: list[tuple[float, float]] = []
    current: int = 0


class FuturesOrderBook(msgspec.Struct):
    """GET /futures/usdt/order_book?with_id=true (``current``/``update`` float seconds; facts §2.6)::

    {"id":123456,"current":1623898993.123,"update":1623898993.121,"asks":[{"p":"1.52","s":100}],"bids":[{"p":"1.17","s":150}]}
    """

    id: int
    bids: list[FLevel] = []
    asks: list[FLevel] = []
    current: float = 0.0


class FundingPoint(msgspec.Struct):
    """GET /futures/usdt/funding_rate item: ``{"t":1543968000,"r":"0.000157"}`` (t unix s, r the applied rate)."""

    t: int
    r: str


class ContractStat(msgspec.Struct):
    """GET /futures/usdt/contract_stats item (gateapi ``ContractStat``: ``open_interest`` contracts, ``open_interest_usd``
    quote; statistics per ``interval`` bucket, default 5m; ``time`` the bucket's unix s). Example built from the
    model's fields (no verbatim docs sample was at hand; specs/sim-deviations.md)::

    {"time":1603865400,"lsr_taker":100,"lsr_account":0.5,"long_liq_size":0,"short_liq_size":0,"open_interest":124724,
     "open_interest_usd":10204.3,"top_lsr_account":2.2,"top_lsr_size":1.2,"mark_price":8300}
    """

    time: int
    open_interest: Num = 0
    open_interest_usd: Num = 0
    long_liq_size: Num = 0
    short_liq_size: Num = 0


class LiqOrder(msgspec.Struct):
    """GET /futures/usdt/liq_orders item (gateapi ``FuturesLiqOrder``: ``size`` the liquidated user's position size, > 0
    a long; ``order_price`` the liquidation order's price, ``fill_price`` its average taker price; ``time`` unix s).
    Example built from the model's fields (specs/sim-deviations.md)::

    {"time":1548654951,"contract":"BTC_USDT","size":600,"order_price":"3405","fill_price":"3424","left":0}
    """

    time: float
    contract: str
    size: Num
    order_price: str = "0"
    fill_price: str = "0"
    left: Num = 0


class Candle(msgspec.Struct):
    """GET /futures/usdt/candlesticks item (gateapi ``FuturesCandlestick``: ``t`` window start unix s, ``v`` contracts,
    ``sum`` volume in the quote currency), oldest first::

    {"t":1539852480,"v":97151,"c":"1.032","h":"1.032","l":"1.032","o":"1.032","sum":"3580"}
    """

    t: float
    o: Num
    h: Num
    l: Num
    c: Num
    v: Num = 0
    sum: Num = 0


# GET /spot/candlesticks row (APIv4 docs, "Market K-line chart"): an array of strings, from left to right: unix s,
# quote volume, close, high, low, open, base volume, whether the window is closed ("true"/"false"). The docs' own
# example lists 7 values, the last "true" (no base volume): rows of 7 are read that way. Example::
#
#   [["1539852480","971519.677","0.0021724","0.0021922","0.0021724","0.0021737","true"]]
SpotCandleRow = list[str | bool | int | float]


class ErrorBody(msgspec.Struct):
    """Non-2xx body (facts §2.3): ``{"label":"INVALID_PARAM_VALUE","message":"..."}``, ``detail`` instead of message at times."""

    label: str = ""
    message: str = ""
    detail: str = ""


# ---------------------------------------------------------------------------------------------- private (REST and WS)


class SpotOrder(msgspec.Struct):
    """Spot order (REST FULL response and spot.orders items; facts §2.5 / §2.8)::

    {"id":"1852454420","text":"t-abc123","create_time_ms":1710488334073,"update_time_ms":1710488334074,"status":"closed",
     "currency_pair":"BTC_USDT","type":"limit","account":"unified","side":"buy","amount":"0.001","price":"65000",
     "time_in_force":"gtc","left":"0","filled_amount":"0.001","filled_total":"63.4693","avg_deal_price":"63469.3",
     "fee":"0.00000022","fee_currency":"BTC","finish_as":"filled"}

    WS items carry ``event`` (put|update|finish), times as strings, and no ``status`` / ``filled_amount``.
    """

    id: str
    currency_pair: str = ""
    text: str = ""
    side: str = "buy"
    type: str = "limit"
    amount: str = "0"
    price: str = "0"
    time_in_force: str = "gtc"
    left: str = ""
    filled_amount: str = ""
    filled_total: str = "0"
    avg_deal_price: str = ""
    fee: str = "0"
    fee_currency: str = ""
    status: str = ""
    finish_as: str = ""
    event: str = ""
    create_time_ms: Num = 0
    update_time_ms: Num = 0


class SpotOpenOrders(msgspec.Struct):
    """GET /spot/open_orders item: ``{"currency_pair":"BTC_USDT","total":1,"orders":[<SpotOrder>]}``."""

    currency_pair: str
    orders: list[SpotOrder] = []


class SpotOrderAck(msgspec.Struct):
    """POST /spot/orders ACK response: ``{"id":"12332324","text":"t-123456","amend_text":"test2"}``."""

    id: str
    text: str = ""


class SpotTradeRow(msgspec.Struct):
    """GET /spot/my_trades item and spot.usertrades item (facts §2.8)::

    {"id":5736713,"user_id":1000001,"order_id":"30784428","currency_pair":"BTC_USDT","create_time":1605176741,
     "create_time_ms":"1605176741123.456","side":"sell","amount":"1.00000000","role":"taker","price":"10000.00000000",
     "fee":"0.00200000000000","point_fee":"0","gt_fee":"0","text":"apiv4","id_market":5736713}
    """

    id: Num
    order_id: str
    currency_pair: str
    side: str
    amount: str
    price: str
    role: str = "taker"
    fee: str = "0"
    fee_currency: str = ""
    point_fee: Num = "0"  # fee paid in points instead (then ``fee`` is 0)
    gt_fee: Num = "0"  # fee paid in GT instead (GT deduction on)
    text: str = ""
    create_time_ms: Num = 0
    create_time: Num = 0


class SpotAccount(msgspec.Struct):
    """GET /spot/accounts item: ``{"currency":"ETH","available":"968.8","locked":"0","update_id":98}``."""

    currency: str
    available: str = "0"
    locked: str = "0"


class SpotBalanceUpdate(msgspec.Struct):
    """spot.balances item (facts §2.8)::

    {"timestamp":"1667556323","timestamp_ms":"1667556323730","user":"1000001","currency":"USDT","change":"0",
     "total":"222244.3827652","available":"222244.3827","freeze":"5","freeze_change":"5.000000","change_type":"order-create"}
    """

    currency: str
    available: str = "0"
    total: str = ""
    freeze: str = ""
    timestamp_ms: Num = 0


class FuturesOrder(msgspec.Struct):
    """Futures order (REST and futures.orders items; numbers or strings; facts §2.6 / §2.9)::

    {"id":15675394,"user":100000,"contract":"BTC_USDT","create_time":1546569968,"size":6024,"iceberg":0,"left":6024,
     "price":"3765","fill_price":"0","mkfr":"-0.00025","tkfr":"0.00075","tif":"gtc","refu":0,"is_reduce_only":false,
     "is_close":false,"is_liq":false,"text":"t-my-custom-id","status":"finished","finish_time":1514764900,"finish_as":"cancelled"}
    """

    id: Num
    contract: str = ""
    size: Num = 0
    left: Num = 0
    price: Num = "0"
    fill_price: Num = "0"
    tif: str = "gtc"
    text: str = ""
    status: str = ""
    finish_as: str = ""
    is_reduce_only: bool = False
    is_close: bool = False
    create_time: float = 0.0
    create_time_ms: Num = 0
    finish_time: float = 0.0
    finish_time_ms: Num = 0
    update_time: Num = 0


class FuturesTradeRow(msgspec.Struct):
    """GET /futures/usdt/my_trades item and futures.usertrades item (facts §2.9)::

    {"id":"3335259","create_time":1628736848,"create_time_ms":1628736848321,"contract":"BTC_USD","order_id":"4872460",
     "size":1,"price":"40000.4","role":"maker","text":"api","fee":0.0009290592,"point_fee":0}
    """

    id: Num
    order_id: Num
    contract: str
    size: Num
    price: Num
    role: str = "taker"
    text: str = ""
    fee: Num = 0
    point_fee: Num = 0  # fee paid in points instead
    create_time: float = 0.0
    create_time_ms: Num = 0


class FuturesAccount(msgspec.Struct):
    """GET /futures/usdt/accounts (facts §2.6; ``total`` excludes unrealised PnL)::

    {"user":1666,"currency":"USDT","total":"9707.803567115145","unrealised_pnl":"3371.248828","position_margin":"38.712189181",
     "order_margin":"0","available":"9669.091377934145",...}
    """

    currency: str = "USDT"
    total: Num = "0"
    available: Num = "0"
    user: Num = 0
    in_dual_mode: bool = False
    # margin (gateapi ``FuturesAccount``): ``maintenance_margin`` is "applicable to new classic account margin mode and
    # unified account mode" (absent or "0" otherwise: the gateway then sums the positions')
    unrealised_pnl: Num = "0"
    position_margin: Num = "0"
    order_margin: Num = "0"
    maintenance_margin: Num = "0"


class FuturesPosition(msgspec.Struct):
    """Futures position (REST and futures.positions items; facts §2.6 / §2.9)::

    {"user":10000,"contract":"BTC_USDT","size":-9440,"leverage":"0","entry_price":"3779.55","liq_price":"99999999",
     "mark_price":"3780.32","margin":"4.431548146258","unrealised_pnl":"-0.000507486844","mode":"single",...}
    """

    contract: str
    size: Num = 0
    leverage: Num = 0
    entry_price: Num = 0
    mark_price: Num = 0
    liq_price: Num = 0
    margin: Num = 0
    unrealised_pnl: Num = 0
    mode: str = "single"
    time_ms: Num = 0
    update_time: Num = 0
    # margin (gateapi ``Position``): maintenance rate under the current risk limit, position value at mark (settle
    # currency), maintenance margin ("applicable to portfolio margin account": may be "0" or absent)
    maintenance_rate: Num = 0
    maintenance_margin: Num = 0
    value: Num = 0


class FuturesBalanceUpdate(msgspec.Struct):
    """futures.balances item: ``{"balance":9.998739899488,"change":-0.000002074115,"text":"BTC_USD:3914424","time":1547199246,
    "time_ms":1547199246123,"type":"fee","user":"211xxx","currency":"btc"}`` (no ``available``: the gateway re-reads the account)."""

    balance: Num = 0
    currency: str = "usdt"
    time_ms: Num = 0
    type: str = ""  # dnw, pnl, fee, refr, fund, ...: a ``fund`` change makes the gateway read the account book


class AccountBookEntry(msgspec.Struct):
    """GET /futures/usdt/account_book item (gateapi ``FuturesAccountBook``: ``time`` float unix s, ``change`` and
    ``balance`` (after the change) settle currency, ``type`` dnw|pnl|fee|refr|fund|point_*|bonus_offset, ``text`` a
    comment, ``contract`` "only available for data after 2023-10-30", ``trade_id``, ``id`` the record id in newer
    SDKs). Example built from the model's fields (no verbatim docs sample was at hand; specs/sim-deviations.md)::

    {"time":1682294400.123,"change":"-0.0123","balance":"1000.5","type":"fund","text":"BTC_USDT:fund",
     "contract":"BTC_USDT","trade_id":"","id":"1"}
    """

    time: Decimal
    change: Decimal
    type: str = ""
    balance: Decimal = Decimal(0)
    text: str = ""
    contract: str = ""
    trade_id: str = ""
    id: str | int = ""


class SpotOrdersFrame(msgspec.Struct, tag_field="channel", tag="spot.orders"):
    result: list[SpotOrder]
    time_ms: int = 0
    event: str = ""


class SpotTradesFrame(msgspec.Struct, tag_field="channel", tag="spot.usertrades"):
    result: list[SpotTradeRow]
    time_ms: int = 0
    event: str = ""


class SpotBalancesFrame(msgspec.Struct, tag_field="channel", tag="spot.balances"):
    result: list[SpotBalanceUpdate]
    time_ms: int = 0
    event: str = ""


class FuturesOrdersFrame(msgspec.Struct, tag_field="channel", tag="futures.orders"):
    result: list[FuturesOrder]
    time_ms: int = 0
    event: str = ""


class FuturesUserTradesFrame(msgspec.Struct, tag_field="channel", tag="futures.usertrades"):
    result: list[FuturesTradeRow]
    time_ms: int = 0
    event: str = ""


class FuturesPositionsFrame(msgspec.Struct, tag_field="channel", tag="futures.positions"):
    result: list[FuturesPosition]
    time_ms: int = 0
    event: str = ""


class FuturesBalancesFrame(msgspec.Struct, tag_field="channel", tag="futures.balances"):
    result: list[FuturesBalanceUpdate]
    time_ms: int = 0
    event: str = ""


__all__ = [n for n in dir() if n[0].isupper()]
