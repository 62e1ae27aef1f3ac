"""MEXC protobuf classes (proto/gen/mexc) against the facts doc's binary test vector (exchange-facts §1.5)."""

from proto.gen.mexc.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper

VECTOR = bytes.fromhex(
    "0a2f73706f74407075626c69632e61676772652e64657074682e76332e6170692e7062403130306d7340425443555344541a07"
    "4254435553445430a8e3eef58833ca136c0a0e0a093131373134352e343912013012170a093131373035332e3431120a312e38"
    "363833373237311a2773706f74407075626c69632e61676772652e64657074682e76332e6170692e7062403130306d73220b34"
    "333239363336333233362a0b3433323936333633323535"
)


def test_aggre_depth_vector_decodes_to_documented_values() -> None:
    """The hand-encoded aggre depth frame decodes to the channel, symbol, sendTime, levels and versions."""
    m = PushDataV3ApiWrapper.FromString(VECTOR)
    assert m.channel == "spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT"
    assert m.symbol == "BTCUSDT"
    assert m.sendTime == 1754741322152
    assert m.WhichOneof("body") == "publicAggreDepths"
    d = m.publicAggreDepths
    assert [(a.price, a.quantity) for a in d.asks] == [("117145.49", "0")]
    assert [(b.price, b.quantity) for b in d.bids] == [("117053.41", "1.86837271")]
    assert d.eventType == "spot@public.aggre.depth.v3.api.pb@100ms"
    assert (d.fromVersion, d.toVersion) == ("43296363236", "43296363255")


def test_vector_reencodes_byte_for_byte() -> None:
    """Canonical serialisation of the decoded message reproduces the vector exactly (field order 1,3,6,313)."""
    assert PushDataV3ApiWrapper.FromString(VECTOR).SerializeToString() == VECTOR


def test_oneof_field_numbers_are_the_official_ones() -> None:
    """Wrapper body field numbers match the official schema (301..315)."""
    fields = PushDataV3ApiWrapper.DESCRIPTOR.fields_by_name
    expected = {
        "publicDeals": 301, "publicIncreaseDepths": 302, "publicLimitDepths": 303, "privateOrders": 304,
        "publicBookTicker": 305, "privateDeals": 306, "privateAccount": 307, "publicSpotKline": 308,
        "publicMiniTicker": 309, "publicMiniTickers": 310, "publicBookTickerBatch": 311,
        "publicIncreaseDepthsBatch": 312, "publicAggreDepths": 313, "publicAggreDeals": 314,
        "publicAggreBookTicker": 315, "channel": 1, "symbol": 3, "symbolId": 4, "createTime": 5, "sendTime": 6,
    }
    assert {n: fields[n].number for n in expected} == expected


def test_2026_6_fields_present() -> None:
    """The 2026.6 additions (version, lastOrderCreateTime, tradeId) exist with their documented numbers."""
    w = PushDataV3ApiWrapper
    depth = w.DESCRIPTOR.fields_by_name["publicAggreDepths"].message_type.fields_by_name
    limit = w.DESCRIPTOR.fields_by_name["publicLimitDepths"].message_type.fields_by_name
    bbo = w.DESCRIPTOR.fields_by_name["publicAggreBookTicker"].message_type.fields_by_name
    deals = w.DESCRIPTOR.fields_by_name["publicAggreDeals"].message_type.fields_by_name["deals"].message_type
    batch = w.DESCRIPTOR.fields_by_name["publicBookTickerBatch"].message_type.fields_by_name
    assert depth["lastOrderCreateTime"].number == 6
    assert limit["lastOrderCreateTime"].number == 5
    assert (bbo["version"].number, bbo["lastOrderCreateTime"].number) == (5, 6)
    assert deals.fields_by_name["tradeId"].number == 5
    assert (batch["version"].number, batch["lastOrderCreateTime"].number) == (2, 3)
