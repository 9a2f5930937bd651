"""The dead-letter stream: consumers park there what they give up on (`park`); operators list,
inspect, replay and drop it.

A replay republishes the parked payload on its original subject with
`Tollgate-Original-Msg-Id` set, so every consumer's inbox recognises it: consumers that had
processed the original skip it, the one that had given up processes it now. If it fails again
it is parked again as a new letter (see `_letter_id`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from tollgate_shared.messaging.channels import Publisher, publish
from tollgate_shared.messaging.message import Incoming
from tollgate_shared.messaging.publish import ORIGINAL_MSG_ID, publish_with_ack
from tollgate_shared.messaging.streams import ALL_STREAMS, DLQ, ConsumerSpec, dlq_subject

ORIGINAL_SUBJECT = "Tollgate-Original-Subject"
ORIGINAL_SEQUENCE = "Tollgate-Original-Sequence"
ERROR = "Tollgate-Error"
DELIVERED = "Tollgate-Delivered"


async def park(
    js: JetStreamContext,
    dead: Publisher,
    spec: ConsumerSpec,
    incoming: Incoming,
    error: BaseException,
) -> None:
    """Park `incoming` on `dlq.<durable>.<subject>` through the durable's DLQ publisher, with
    why and after how many deliveries; raises when the DLQ did not store it."""
    await publish(
        dead,
        dlq_subject(spec.durable, incoming.subject),
        incoming.data,
        msg_id=await _letter_id(js, spec, incoming),
        headers={
            ORIGINAL_MSG_ID: incoming.message_id,
            ORIGINAL_SUBJECT: incoming.subject,
            ORIGINAL_SEQUENCE: str(incoming.stream_sequence),
            DELIVERED: str(incoming.delivered),
            ERROR: f"{type(error).__name__}: {error}"[:1000],
        },
    )


async def _letter_id(js: JetStreamContext, spec: ConsumerSpec, incoming: Incoming) -> str:
    """The DLQ Msg-Id of this parking: the same for every attempt to park this delivery, new
    for every later one.

    Parking one delivery may be tried more than once: the DLQ's ack got lost (the message is
    nak'ed and comes back), or the process died between parking and terminating (it comes
    back after `ack_wait`). Those attempts carry the same stream sequence on a durable of the
    same creation time, so JetStream keeps one letter. A letter replayed from the DLQ is a new
    message on its stream (a new sequence), and a rewound durable is a new consumer (a new
    creation time): either failing again is parked again, however soon, where an id of the
    message alone would be dropped as a duplicate within the DLQ's duplicate window. Asking
    the server for the creation time costs one request per parking, which is rare, and stays
    right for a durable rewound under a running process."""
    created = (await js.consumer_info(spec.stream.name, spec.durable)).created
    return ":".join(
        (
            spec.durable,
            incoming.message_id,
            f"{spec.stream.name}@{incoming.stream_sequence}",
            created.isoformat(),
        )
    )


@dataclass(frozen=True)
class DeadLetter:
    """One parked message."""

    sequence: int
    subject: str
    service: str
    original_subject: str
    original_id: str
    error: str
    delivered: int
    parked_at: datetime | None
    data: bytes


def _parse(
    sequence: int, subject: str, headers: dict[str, str], data: bytes, time: datetime | None
) -> DeadLetter:
    return DeadLetter(
        sequence=sequence,
        subject=subject,
        service=subject.split(".")[1],
        original_subject=headers.get(ORIGINAL_SUBJECT, ""),
        original_id=headers.get(ORIGINAL_MSG_ID, ""),
        error=headers.get(ERROR, ""),
        delivered=int(headers.get(DELIVERED, "0") or 0),
        parked_at=time,
        data=data,
    )


async def get(js: JetStreamContext, sequence: int) -> DeadLetter:
    """The dead letter at `sequence` (raises NotFoundError when there is none)."""
    raw = await js.get_msg(DLQ.name, sequence)
    return _parse(
        raw.seq or sequence, raw.subject or "", raw.headers or {}, raw.data or b"", raw.time
    )


async def iterate(js: JetStreamContext, *, service: str | None = None) -> AsyncIterator[DeadLetter]:
    """Every dead letter, oldest first, optionally of one service."""
    info = await js.stream_info(DLQ.name)
    if not info.state.messages:
        return
    for sequence in range(info.state.first_seq, info.state.last_seq + 1):
        try:
            letter = await get(js, sequence)
        except NotFoundError:
            continue
        if service is None or letter.service == service:
            yield letter


def _stream_of(subject: str) -> str:
    prefix = subject.split(".")[0]
    for spec in ALL_STREAMS:
        if any(s.split(".")[0] == prefix for s in spec.subjects):
            return spec.name
    raise ValueError(f"no stream holds subject {subject!r}")


async def replay(js: JetStreamContext, letter: DeadLetter) -> None:
    """Publish the letter on its original subject again, then remove it from the DLQ.

    Safe to repeat: the replay's Msg-Id is derived from the DLQ sequence, so a replay that
    crashed before removing the letter is deduplicated by JetStream when run again.
    """
    await publish_with_ack(
        js,
        letter.original_subject,
        letter.data,
        msg_id=f"replay:{letter.sequence}:{letter.original_id}",
        stream=_stream_of(letter.original_subject),
        headers={ORIGINAL_MSG_ID: letter.original_id},
    )
    await drop(js, letter.sequence)


async def drop(js: JetStreamContext, sequence: int) -> None:
    """Remove a dead letter for good."""
    await js.delete_msg(DLQ.name, sequence)
