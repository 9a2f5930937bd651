"""The one declaration of Tollgate's JetStream streams and durable consumers (see DESIGN.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

DAY = 24 * 3600.0


@dataclass(frozen=True)
class StreamSpec:
    """A stream as DESIGN.md declares it."""

    name: str
    subjects: tuple[str, ...]
    max_age: float | None
    duplicate_window: float
    description: str

    def config(self, replicas: int = 1) -> StreamConfig:
        """The JetStream configuration for this stream with `replicas` copies."""
        return StreamConfig(
            name=self.name,
            subjects=list(self.subjects),
            description=self.description,
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=self.max_age,
            duplicate_window=self.duplicate_window,
            num_replicas=replicas,
        )


STRIPE = StreamSpec(
    name="STRIPE",
    subjects=("stripe.>",),
    max_age=30 * DAY,
    # Stripe retries an event for up to three days; consumers' inboxes catch anything older.
    duplicate_window=DAY,
    description="Verified Stripe events, subject stripe.<event.type>, Msg-Id = event id",
)
DOMAIN = StreamSpec(
    name="DOMAIN",
    subjects=("membership.>", "ledger.>", "checkout.>", "notification.>"),
    max_age=30 * DAY,
    duplicate_window=3600.0,
    description="Tollgate domain events relayed from each service's outbox, Msg-Id = event id",
)
DLQ = StreamSpec(
    name="DLQ",
    subjects=("dlq.>",),
    max_age=None,
    duplicate_window=3600.0,
    description="Messages a consumer gave up on, kept until an operator replays or drops them",
)
ALL_STREAMS = (STRIPE, DOMAIN, DLQ)


def dlq_subject(service: str, subject: str) -> str:
    """Where `service` parks a message from `subject` that it could not process."""
    return f"dlq.{service}.{subject}"


async def ensure_streams(js: JetStreamContext, replicas: int = 1) -> None:
    """Create the streams, or bring an existing stream's settings in line with the declaration."""
    for spec in ALL_STREAMS:
        config = spec.config(replicas)
        try:
            await js.stream_info(spec.name)
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)


BACKGROUND_GATHER = 0.2
"""`ConsumerSpec.gather_seconds` of the durables whose effects nobody waits on within a
fraction of a second: the ledger's, notifications' and checkout's of Stripe's events. Their CPU
per event under load fell with it (bench/README.md). Membership's (the gate reads them) and
checkout's of memberships (admission reads them) do not gather."""


@dataclass(frozen=True)
class ConsumerSpec:
    """One service's durable pull consumer on one stream."""

    durable: str
    stream: StreamSpec
    filter_subject: str
    max_deliver: int = 8
    """Failed deliveries before a message is parked on the DLQ (counted by the consumer; the
    server redelivers without limit, so that deferred deliveries never exhaust a message)."""
    ack_wait: float = 30.0
    max_ack_pending: int = 1000
    fetches_in_flight: int = 3
    """Fetches one process applies at once, each in its own transaction (while one waits on
    Postgres another runs). Row and advisory locks order fetches that touch the same entity; a
    consumer whose handlers would lock in crossing orders locks in its `prefetch` instead."""
    linger_seconds: float = 0.05
    """Seconds a consumer that has caught up (its last fetch was not full) waits for the fetches
    it is applying before it fetches again, so that what arrives meanwhile is taken in one
    fetch and one transaction instead of a trickle of small ones. Bounded, so that a slow
    message (a Stripe call) holds the others back by this much at most. 50 ms rather than 20
    cut the consumers' CPU per event under load with no worse latency from webhook to gate
    (bench/README.md)."""
    gather_seconds: float = 0.0
    """For a consumer whose effects nobody waits on, the least time from one fetch to the
    next once it has caught up (`BACKGROUND_GATHER`): what arrives meanwhile is applied in one
    transaction. A lone message after a quiet spell is fetched at once all the same."""
    savepoints: bool = True
    """Each message of a fetch in its own savepoint, so that one that fails is rolled back
    alone and the handlers of the others do not run again (their Stripe calls are not
    repeated). A consumer whose handlers only write to its own database, or whose calls
    outside it are safe to repeat (reads, writes under an idempotency key), may turn them off
    and save a round trip per message: a failure then rolls back the whole fetch, whose
    messages are applied again one by one, each in its own transaction."""
    backoff: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)

    @property
    def fetch_size(self) -> int:
        """Most messages fetched, and applied in one transaction, at a time: 64 with
        savepoints (each message's savepoint is a subtransaction, and Postgres keeps only 64
        of them per transaction in shared memory before every snapshot taken meanwhile gets
        slower), 256 without, which keeps the lag bounded under steady load where 64 did not
        (bench/README.md)."""
        return 64 if self.savepoints else 256

    def config(self, subjects: Sequence[str] = ()) -> ConsumerConfig:
        """Explicit ack, redelivery until acked or parked, everything from the stream's start;
        delivering `subjects` only when given (each within `filter_subject`), else all of
        `filter_subject`."""
        outside = [s for s in subjects if not subject_matches(self.filter_subject, s)]
        if outside:
            raise ValueError(f"{self.durable}: {outside} outside {self.filter_subject!r}")
        return ConsumerConfig(
            name=self.durable,
            durable_name=self.durable,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            max_deliver=-1,
            max_ack_pending=self.max_ack_pending,
            filter_subject=None if subjects else self.filter_subject,
            filter_subjects=sorted(subjects) or None,
        )

    def retry_delay(self, delivered: int) -> float:
        """How long to wait before delivery number `delivered + 1`."""
        return self.backoff[min(delivered, len(self.backoff)) - 1] if delivered > 0 else 0.0


def subject_matches(pattern: str, subject: str) -> bool:
    """Whether NATS `subject` falls under `pattern` (`*` one token, a last `>` the rest)."""
    wanted, parts = pattern.split("."), subject.split(".")
    for i, part in enumerate(wanted):
        if part == ">":
            return len(parts) > i
        if i >= len(parts) or part not in ("*", parts[i]):
            return False
    return len(parts) == len(wanted)


def filters(config: ConsumerConfig) -> list[str]:
    """The subjects a consumer's configuration delivers, however they are given."""
    if config.filter_subjects:
        return list(config.filter_subjects)
    return [config.filter_subject] if config.filter_subject else []
