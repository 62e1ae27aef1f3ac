"""One error tree for the project, and the one place that says what is retryable.

ArbError
 ├─ ConfigError            bad config file / env / credentials: fatal at start-up (exit 2)
 ├─ SymbolError            unknown or untradable symbol: a clear message, never a crash
 ├─ ValidationError        an order that breaks the venue's symbol rules, refused before sending
 ├─ VenueError             the venue said no (code + message as the venue sent them)
 │   ├─ VenueClientError   4xx: our request is wrong; never retried as-is
 │   ├─ VenueServerError   5xx / timeout: outcome UNKNOWN for writes -> reconcile, do not resend
 │   │   └─ LookupIncomplete  a query by client id could not read far enough back to say "not found"
 │   └─ RateLimited        429/418: retry after `retry_after` seconds
 ├─ ProtocolError          a frame we cannot parse (counted, skipped)
 ├─ BusUnavailable         NATS not reachable within nats.connect_timeout_s at start: exit 1
 ├─ SequenceGap            book update does not follow the local book: resync that book
 └─ StorageError           database write/read failed
"""

from __future__ import annotations


class ArbError(Exception):
    """Base of every error the project raises on purpose."""


class ConfigError(ArbError):
    pass


class SymbolError(ArbError):
    pass


class ValidationError(ArbError):
    pass


class ProtocolError(ArbError):
    pass


class BusUnavailable(ArbError):
    """The first connect to NATS did not succeed in time; the message names the URL with its password masked."""


class SequenceGap(ArbError):
    def __init__(self, symbol: str, expected: int, got: int) -> None:
        super().__init__(f"{symbol}: sequence gap, expected {expected}, got {got}")
        self.symbol = symbol
        self.expected = expected
        self.got = got


class StorageError(ArbError):
    pass


class VenueError(ArbError):
    """An error response from a venue, with its own code (int or label) and message."""

    def __init__(self, venue: str, code: str, message: str, http_status: int = 0) -> None:
        super().__init__(f"{venue} error {code}: {message}" + (f" (HTTP {http_status})" if http_status else ""))
        self.venue = venue
        self.code = code
        self.message = message
        self.http_status = http_status


class VenueClientError(VenueError):
    pass


class VenueServerError(VenueError):
    """5xx or transport failure: for an order submit the outcome is unknown."""


class LookupIncomplete(VenueServerError):
    """A query by client id read as far back as the venue lets us and did not find the order: that proves
    nothing (it may be older than what the venue lists), so it is not "unknown to the venue" either."""


class RateLimited(VenueError):
    def __init__(self, venue: str, code: str, message: str, http_status: int, retry_after: float) -> None:
        super().__init__(venue, code, message, http_status)
        self.retry_after = retry_after


def is_retryable(exc: BaseException) -> bool:
    """Safe to repeat the same *read* request. Writes are reconciled, never blindly repeated."""
    return isinstance(exc, (VenueServerError, RateLimited, ConnectionError, TimeoutError))
