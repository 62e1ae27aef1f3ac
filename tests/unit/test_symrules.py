"""Symbol rules refreshed on the trading side (arb.venues.common.symrules): what a re-read changes, how it is logged,
and a failed read keeping the held rules."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from arb.core.enums import Market, SymbolStatus, Venue
from arb.core.symbols import Symbol, SymbolInfo, SymbolMap
from arb.venues.common.symrules import RuleChange, RuleRefresher, merge

pytestmark = pytest.mark.unit
D = Decimal


def info(name: str = "BTC-USDT", mult: str = "0.0001", tick: str = "0.1") -> SymbolInfo:
    base, quote = name.split("-")
    return SymbolInfo(venue=Venue.GATEIO, market=Market.FUTURES, symbol=Symbol(base, quote),
                      venue_symbol=f"{base}_{quote}", tick_size=D(tick), lot_step=D(1), min_qty=D(1),
                      contract_multiplier=D(mult))


def smap(*infos: SymbolInfo) -> SymbolMap:
    return SymbolMap(Venue.GATEIO, Market.FUTURES, infos)


def test_first_read_is_no_change_and_a_rule_change_names_key_field_old_and_new():
    """Everything is new at the first read (no change); later each moved rule is one change, in symbol order."""
    held, first = merge(smap(), smap(info(), info("ETH-USDT")))
    held, changes = merge(held, smap(info(mult="0.001", tick="0.5"), info("ETH-USDT")))
    assert first == []
    assert [str(c) for c in changes] == ["gateio.futures.BTC-USDT contract_multiplier 0.0001 -> 0.001",
                                         "gateio.futures.BTC-USDT tick_size 0.1 -> 0.5"]
    assert held.info("BTC-USDT").contract_multiplier == D("0.001") and held.info("BTC-USDT").tick_size == D("0.5")


def test_a_symbol_gone_from_the_venue_list_is_kept_delisted_and_a_new_one_is_listed():
    """Absent from the fresh read: kept with status delisted (events still convert, orders refused), logged once."""
    held, _ = merge(smap(), smap(info(), info("ETH-USDT")))
    held, changes = merge(held, smap(info(), info("SOL-USDT")))
    assert [(c.symbol, c.field, c.new) for c in changes] == [
        ("ETH-USDT", "status", SymbolStatus.DELISTED), ("SOL-USDT", "listed", True)]
    assert held.info("ETH-USDT").status is SymbolStatus.DELISTED
    assert merge(held, smap(info(), info("SOL-USDT")))[1] == []  # delisted once, not again


async def test_refresher_logs_each_change_and_calls_on_change(capsys: pytest.CaptureFixture[str]):
    """One refresh applies the fresh rules, logs 'key field old -> new' per change and hands the changes on."""
    reads = [smap(info()), smap(info(mult="0.001"))]
    box = {"map": smap()}
    seen: list[list[RuleChange]] = []

    async def read() -> SymbolMap:
        return reads.pop(0)

    r = RuleRefresher("gate test", read, lambda: box["map"], lambda m: box.update(map=m), 60.0, on_change=seen.append)
    assert await r.refresh() == []
    capsys.readouterr()
    (c,) = await r.refresh()
    assert box["map"].info("BTC-USDT").contract_multiplier == D("0.001")
    assert (c.field, c.old, c.new) == ("contract_multiplier", D("0.0001"), D("0.001")) and seen == [[c]]
    assert "gate test: symbol rule changed: gateio.futures.BTC-USDT contract_multiplier 0.0001 -> 0.001" in (
        capsys.readouterr().err)
    assert (r.refreshes, r.changes) == (2, 1)


async def test_a_failed_read_keeps_the_held_rules():
    """The read raises: nothing is applied, the error reaches the caller (the loop logs and counts it)."""
    held = smap(info())
    box = {"map": held}

    async def read() -> SymbolMap:
        raise ConnectionError("venue down")

    r = RuleRefresher("gate test", read, lambda: box["map"], lambda m: box.update(map=m), 60.0)
    with pytest.raises(ConnectionError):
        await r.refresh()
    assert box["map"] is held and r.refreshes == 0
    assert msgspec.structs.replace(held.info("BTC-USDT")) == info()
