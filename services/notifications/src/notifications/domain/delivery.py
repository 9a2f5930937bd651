"""What happens after a delivery attempt: sent, retried later, or failed for good."""

from __future__ import annotations

from dataclasses import dataclass

from notifications.domain.model import Status


@dataclass(frozen=True)
class DeliveryFailure:
    """Why an attempt failed; `permanent` for a 5xx about the message or its recipient."""

    reason: str
    permanent: bool


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff between attempts (the last delay repeats) and the attempt budget."""

    backoff: tuple[float, ...]
    max_attempts: int

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed attempt."""
        return self.backoff[min(max(attempts, 1), len(self.backoff)) - 1]


@dataclass(frozen=True)
class Outcome:
    status: Status
    retry_in: float | None = None
    reason: str | None = None


LAPSED_ON_LAST_ATTEMPT = (
    "gave up: the lease of the last allowed attempt lapsed with no outcome recorded"
    " (the sender stopped or could not record it)"
)


def after_attempt(failure: DeliveryFailure | None, attempts: int, policy: RetryPolicy) -> Outcome:
    """The notification's next state after its `attempts`-th attempt ended with `failure`."""
    if failure is None:
        return Outcome(Status.SENT)
    if failure.permanent:
        return Outcome(Status.FAILED, reason=failure.reason)
    if attempts >= policy.max_attempts:
        return Outcome(Status.FAILED, reason=f"gave up after {attempts} attempts: {failure.reason}")
    return Outcome(Status.PENDING, retry_in=policy.delay(attempts), reason=failure.reason)
