"""The bus contract: message registry, subject catalogue vs specs/subjects.md, ErrorKind on the wire."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from arb.bus import codec, contract
from arb.bus.subjects import CMD_VERBS, MdSubjects, OrdSubjects
from arb.core.commands import COMMAND_VERBS, ErrorKind, ErrorReply, PlaceOrder, QueryBalances
from arb.core.control import CtlRequest
from arb.core.enums import Market, Venue
from arb.core.execution import Fill, OrderUpdate
from arb.core.market_data import BookTicker

SPEC = Path(__file__).parents[2] / "specs" / "subjects.md"


class ProbeEvent(msgspec.Struct, frozen=True, tag="test_probe_event"):
    """A message type that exists only in this test module."""

    name: str
    n: int = 0


@pytest.fixture
def probe() -> Iterator[type[ProbeEvent]]:
    """ProbeEvent registered with the codec for one test, taken out after."""
    codec.register(ProbeEvent)
    try:
        yield ProbeEvent
    finally:
        codec.unregister(ProbeEvent)


def test_a_type_registered_elsewhere_decodes_without_editing_the_codec(probe: type[ProbeEvent]) -> None:
    """A message type registered in its own module is decoded by the one codec, and stops being once taken out."""
    data = codec.encode(probe("x", 3))
    assert codec.decode(data) == probe("x", 3)
    codec.unregister(probe)
    with pytest.raises(msgspec.ValidationError):
        codec.decode(data)


def test_register_refuses_an_untagged_type_and_a_taken_tag() -> None:
    """Two classes under one tag, or a struct without a tag, are refused at registration, not at decode."""

    class Untagged(msgspec.Struct):
        x: int

    class Impostor(msgspec.Struct, frozen=True, tag="bbo"):
        x: int

    with pytest.raises(TypeError):
        codec.register(Untagged)
    with pytest.raises(ValueError, match="taken by arb.core.market_data.BookTicker"):
        codec.register(Impostor)
    codec.register(BookTicker)  # the same class again is a no-op
    assert codec.registered()["bbo"] is BookTicker


def test_decoder_is_built_once_and_found_without_a_call() -> None:
    """After the first decode, ``codec.decode`` is the msgspec decoder's own bound method (no wrapper per message)."""
    first = codec.decode
    assert first.__self__ is codec.decode.__self__ and isinstance(first.__self__, msgspec.msgpack.Decoder)


def test_every_catalogued_type_is_registered() -> None:
    """Everything published or answered on a catalogued subject decodes through the one codec."""
    reg = codec.registered()
    for t in contract.message_types():
        assert reg[t.__struct_config__.tag] is t


def test_error_kind_encodes_the_same_bytes_as_the_old_strings() -> None:
    """An ErrorReply with an ErrorKind is byte-identical to the one built from the plain string, and decodes back."""
    for kind in ErrorKind:
        typed = ErrorReply(kind, "C", "m", retryable=True, status_unknown=True)
        plain = ErrorReply(kind.value, "C", "m", retryable=True, status_unknown=True)  # type: ignore[arg-type]
        assert codec.encode(typed) == codec.encode(plain)
        back = codec.decode(codec.encode(typed))
        assert back == typed and back.kind is kind
    golden = bytes.fromhex("86a474797065a56572726f72a46b696e64ac76656e75655f736572766572a4636f6465a754494d454f5554"
                           "a76d657373616765a16da9726574727961626c65c3ae7374617475735f756e6b6e6f776ec3")
    assert codec.encode(ErrorReply(ErrorKind.VENUE_SERVER, "TIMEOUT", "m", retryable=True, status_unknown=True)) == golden
    assert {k.value for k in ErrorKind} == {"venue_client", "venue_server", "rate_limited", "validation", "symbol",
                                            "internal", "conflict", "unavailable"}


def test_error_kinds_in_use_are_all_members() -> None:
    """Every kind the trading code builds an ErrorReply with is an ErrorKind member, never a bare string."""
    src = (Path(__file__).parents[2] / "libs" / "arb" / "venues" / "common" / "trading.py").read_text()
    kinds = re.findall(r"ErrorReply\(\s*([^,]+),", src)
    assert kinds and all(k.startswith("ErrorKind.") or k == "base.kind" for k in kinds), kinds
    assert {k.removeprefix("ErrorKind.") for k in kinds if k != "base.kind"} <= set(ErrorKind.__members__)


def test_verbs_are_named_once_on_the_command_classes() -> None:
    """A command's verb is its tag; the subject builders and the catalogue take it from there."""
    assert COMMAND_VERBS[PlaceOrder] == "place" and COMMAND_VERBS[QueryBalances] == "balances"
    assert CMD_VERBS == tuple(COMMAND_VERBS.values())
    assert [e.kind for e in contract.CATALOGUE
            if e.delivery is contract.Delivery.REQUEST and e.pattern.startswith("ord.")] == list(CMD_VERBS)


def test_catalogue_matches_the_subject_builders() -> None:
    """Every subject the builders make is found in the catalogue with the type published on it."""
    md = MdSubjects.of(Venue.MEXC, Market.SPOT, "BTC-USDT", prefix="p.")
    ordr = OrdSubjects.of(Venue.GATEIO, "main", Market.FUTURES, prefix="p.")
    assert contract.match(md.bbo, prefix="p.").types == (BookTicker,)
    assert contract.match(ordr.order, prefix="p.").types == (OrderUpdate,)
    assert contract.match(ordr.fill, prefix="p.").stream == "ORD"
    place = contract.match(ordr.cmd_prefix + ".place", prefix="p.")
    assert place is contract.command(PlaceOrder) and place.delivery is contract.Delivery.REQUEST
    assert contract.match("md.mexc.spot.BTC-USDT.nope") is None and contract.match("x.md.a.b.c.bbo", "p.") is None
    with pytest.raises(KeyError):
        contract.command(Fill)


def _table(section: str, header: str) -> list[list[str]]:
    """Rows of the markdown table under ``## section`` whose header row starts with ``header``."""
    text = SPEC.read_text()
    start = text.index(f"\n## {section}")
    end = text.find("\n## ", start + 1)
    body = text[start:end if end >= 0 else None].splitlines()
    i = next(n for n, line in enumerate(body) if line.startswith(header))
    rows = []
    for line in body[i + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def _names(cell: str) -> list[str]:
    """`a` / `b` -> [a, b]; "OrderReply or ErrorReply" -> [OrderReply, ErrorReply]; "X: text" -> [X]."""
    cell = cell.split(":")[0]
    return [p.strip().strip("`") for p in re.split(r" / | or ", cell)]


def _spec_entries() -> dict[str, tuple[list[str], list[str], list[str]]]:
    """pattern -> (type names, reply type names, tags) as specs/subjects.md lists them."""
    out: dict[str, tuple[list[str], list[str], list[str]]] = {}
    for kind_cell, tag_cell, payload, *_ in _table("Market data", "| kind | type tag | payload"):
        for kind, tag, name in zip(_names(kind_cell), _names(tag_cell), _names(payload), strict=True):
            out[contract.MD_PATTERN.format(kind=kind)] = ([name], [], [tag])
    for verb, request, reply in _table("Orders", "| verb | request | reply"):
        out[contract.CMD_PATTERN.format(verb=verb.strip("`"))] = (_names(request), _names(reply), [verb.strip("`")])
    for kind, tag, payload in _table("Orders", "| kind | type tag | payload"):
        out[contract.EVT_PATTERN.format(kind=kind.strip("`"))] = (_names(payload), [], [tag.strip("`")])
    for kind, tags, payload in _table("Strategy and control", "| kind | type tags | payload"):
        out[contract.STRAT_PATTERN.format(kind=kind.strip("`"))] = (_names(payload), [], _names(tags))
    for verb, request, reply in _table("Strategy and control", "| verb | request | reply"):
        out[contract.CTL_PATTERN.format(verb=verb.strip("`"))] = (_names(request), _names(reply),
                                                                  [t.__struct_config__.tag for t in (CtlRequest,)])
    return out


def test_specs_tables_list_exactly_the_catalogue() -> None:
    """specs/subjects.md's market-data, command and execution-event tables name the catalogue's subjects and types."""
    spec = _spec_entries()
    cat = {e.pattern: ([t.__name__ for t in e.types], [t.__name__ for t in e.replies],
                       [t.__struct_config__.tag for t in e.types]) for e in contract.CATALOGUE}
    assert spec == cat
    text = SPEC.read_text()
    for e in contract.CATALOGUE:
        family = e.pattern.rpartition(".")[0]
        assert family in text, family
        if e.stream:
            assert f"stream `{e.stream}`" in text
