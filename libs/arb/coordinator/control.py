"""``ctl.coordinator.<verb>`` (request/reply): the messages, defined in ``arb.core.control``."""

from __future__ import annotations

from ..core.control import VERBS, CtlReply, CtlRequest, OpenOrder, TaskStatus

__all__ = ["VERBS", "CtlReply", "CtlRequest", "OpenOrder", "TaskStatus"]
