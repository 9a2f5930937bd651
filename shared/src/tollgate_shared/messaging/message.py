"""One delivered JetStream message: what it carries (`Incoming`) and what becomes of it
(`Delivery`: acked, retried later, or terminated once parked on the DLQ)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nats.aio.msg import Msg

from tollgate_shared.messaging.publish import MSG_ID, ORIGINAL_MSG_ID


class PermanentError(Exception):
    """The message can never be processed as it is: park it on the DLQ without retrying."""


class Postponed(Exception):
    """The message cannot be processed yet, through no fault of its own (a shared budget is
    spent): deliver it again after `retry_after` seconds, never counting it as a failure."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Incoming:
    """A delivered message's content and where it stands."""

    message_id: str
    subject: str
    data: bytes
    delivered: int
    stream_sequence: int

    @classmethod
    def from_msg(cls, msg: Msg) -> Incoming:
        """The id: a replay's original id, else `Nats-Msg-Id`, else the stream sequence."""
        meta = msg.metadata
        headers = msg.headers or {}
        msg_id = (
            headers.get(ORIGINAL_MSG_ID)
            or headers.get(MSG_ID)
            or f"{meta.stream}:{meta.sequence.stream}"
        )
        return cls(
            message_id=msg_id,
            subject=msg.subject,
            data=msg.data,
            delivered=meta.num_delivered,
            stream_sequence=meta.sequence.stream,
        )


class Delivery:
    """A message being consumed: its content, the event it parsed into (once parsed), and the
    answers to the server. Only the consumer core sees it; handlers get the event."""

    __slots__ = ("_msg", "event", "incoming")

    def __init__(self, msg: Msg, incoming: Incoming | None = None) -> None:
        self._msg = msg
        self.incoming = incoming or Incoming.from_msg(msg)
        self.event: Any = None

    @property
    def headers(self) -> dict[str, str] | None:
        """The message's headers (the trace context travels in them)."""
        return self._msg.headers

    async def ack(self) -> None:
        """Done with it (not waiting for the server's confirmation)."""
        await self._msg.ack()

    async def ack_sync(self) -> None:
        """Done with it, once the server confirmed."""
        await self._msg.ack_sync()

    async def retry(self, delay: float) -> None:
        """Deliver it again after `delay` seconds."""
        await self._msg.nak(delay=delay)

    async def term(self) -> None:
        """Never deliver it again (it was parked on the DLQ)."""
        await self._msg.term()
