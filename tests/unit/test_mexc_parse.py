"""MEXC parsing: private protobuf pushes (docs payloads), control replies, REST orders (public pushes: test_mexc_wire)."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from arb.core.enums import OrderStatus, OrderType, Side, TimeInForce
from arb.core.errors import ProtocolError
from arb.venues.mexc import parse
from arb.venues.mexc.schemas import OrderRaw, TradeRaw

from proto.gen.mexc.PrivateAccountV3Api_pb2 import PrivateAccountV3Api
from proto.gen.mexc.PrivateDealsV3Api_pb2 import PrivateDealsV3Api
from proto.gen.mexc.PrivateOrdersV3Api_pb2 import PrivateOrdersV3Api

pytestmark = pytest.mark.unit

def test_private_order_from_docs_payload() -> None:
    """The docs' private order push (market sell, status 2) is a filled market order."""
    body = PrivateOrdersV3Api(
        id="C02__505979017439002624115", price="3.5121", quantity="1", amount="0", avgPrice="3.6962", orderType=5,
        tradeType=2, remainAmount="0", remainQuantity="0", lastDealQuantity="1", cumulativeQuantity="1",
        cumulativeAmount="3.6962", status=2, createTime=1736417034259)
    o = parse.pb_order(PrivateOrdersV3Api.FromString(body.SerializeToString()), "MX-USDT", "a", 0, 1)
    assert (o.side, o.order_type, o.status) == (Side.SELL, OrderType.MARKET, OrderStatus.FILLED)
    assert (o.filled_qty, o.avg_price, o.price) == (Decimal(1), Decimal("3.6962"), None)
    assert o.ts_event == 1736417034259_000_000


def test_private_deal_and_account_from_docs_payloads() -> None:
    """The docs' private deal and account pushes become a Fill and a Balance with exact decimals."""
    d = PrivateDealsV3Api(price="3.6962", quantity="1", amount="3.6962", tradeType=2, tradeId="505979017439002624X1",
                          orderId="C02__505979017439002624115", feeAmount="0.0003998377369698171", feeCurrency="MX",
                          time=1736417034280)
    f = parse.pb_fill(d, "MX-USDT", "a", "cid-1", 1)
    assert (f.trade_id, f.client_order_id, f.side, f.fee) == ("505979017439002624X1", "cid-1", Side.SELL,
                                                              Decimal("0.0003998377369698171"))
    a = PrivateAccountV3Api(vcoinName="USDT", coinId="128f589271cb4951b03e71e6323eb7be",
                            balanceAmount="21.94210356004384", balanceAmountChange="10", frozenAmount="0",
                            frozenAmountChange="0", type="CONTRACT_TRANSFER", time=1736416910000)
    b = parse.pb_balance(a, "a", 1)
    assert (b.asset, b.free, b.locked) == ("USDT", Decimal("21.94210356004384"), Decimal(0))


def test_canceled_ioc_is_expired() -> None:
    """An IOC order the venue reports CANCELED had its remainder killed: EXPIRED."""
    raw = OrderRaw(symbol="BTCUSDT", orderId="1", clientOrderId="c", price="1", origQty="2", executedQty="1",
                   cummulativeQuoteQty="1", status="CANCELED", type="IMMEDIATE_OR_CANCEL", side="BUY", time=5)
    o = parse.rest_order(raw, "BTC-USDT", "a", 9)
    assert (o.status, o.tif, o.avg_price, o.ts_event) == (OrderStatus.EXPIRED, TimeInForce.IOC, Decimal(1), 5_000_000)


def test_place_ack_without_status_is_new() -> None:
    """The docs' place reply (no status, no client id) is NEW with the id we sent."""
    raw = OrderRaw(symbol="MXUSDT", orderId="06a480e69e604477bfb48dddd5f0b750", price="0.1", origQty="50",
                   type="LIMIT", side="BUY", transactTime=1666676533741)
    o = parse.rest_order(raw, "MX-USDT", "a", 1, client_order_id="mine")
    assert (o.status, o.client_order_id, o.qty, o.price) == (OrderStatus.NEW, "mine", Decimal(50), Decimal("0.1"))


def test_my_trade_numeric_ids() -> None:
    """myTrades ids may be numbers or strings; both become strings."""
    f = parse.rest_fill(TradeRaw(symbol="BNBBTC", id=7, orderId=8, price="4.00000100", qty="12", isBuyer=True,
                                 time=1499865549590), "BNB-BTC", "a", "", 1)
    assert (f.trade_id, f.venue_order_id, f.side) == ("7", "8", Side.BUY)


def test_control_replies() -> None:
    """Subscribe acks and PONG are control replies; other text is a ProtocolError."""
    assert parse.control('{"id":0,"code":0,"msg":"PONG"}').msg == "PONG"
    assert parse.control('{"id":0,"code":0,"msg":"spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT"}').code == 0
    with pytest.raises(ProtocolError):
        parse.control("Invalid listen key")


def test_order_type_out() -> None:
    """Our (type, tif) map to MEXC's five order types."""
    assert parse.order_type_out(OrderType.LIMIT, TimeInForce.POST_ONLY) == "LIMIT_MAKER"
    assert parse.order_type_out(OrderType.LIMIT, TimeInForce.FOK) == "FILL_OR_KILL"
    assert parse.order_type_out(OrderType.MARKET, TimeInForce.GTC) == "MARKET"


def test_cancel_reply_names_the_canceled_order_not_the_cancel_request() -> None:
    """The docs' cancel reply: ``origClientOrderId`` is the order's id, ``clientOrderId`` the cancel request's."""
    raw = msgspec.json.decode(
        b'{"symbol":"LTCBTC","origClientOrderId":"myOrder1","orderId":4,"clientOrderId":"cancelMyOrder1",'
        b'"price":"2.00000000","origQty":"1.00000000","executedQty":"0.00000000","cummulativeQuoteQty":"0.00000000",'
        b'"status":"CANCELED","timeInForce":"GTC","type":"LIMIT","side":"BUY"}', type=OrderRaw)
    o = parse.rest_order(raw, "LTC-BTC", "a", 1, client_order_id="myOrder1")
    assert (o.client_order_id, o.venue_order_id, o.status) == ("myOrder1", "4", OrderStatus.CANCELED)
