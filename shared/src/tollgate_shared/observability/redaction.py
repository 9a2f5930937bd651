"""A structlog processor that keeps secrets and card numbers out of the logs.

Values of sensitive keys (`authorization`, `stripe_signature`, `password`, `token`, …) are
replaced whole; in every other string (rendered tracebacks included), the process's configured
secrets, Stripe keys, webhook secrets, bearer tokens, JWTs, passwords in URLs and Luhn-valid
13 to 19 digit card numbers are masked wherever they appear.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from structlog.types import EventDict, WrappedLogger

MASK = "[redacted]"
SENSITIVE_KEYS = re.compile(
    r"authorization|signature|secret|password|passwd|token|api_?key|card_?number|cvc|cookie",
    re.IGNORECASE,
)
_SECRETS = re.compile(
    r"\b(?:sk|rk|pk)_(?:test|live)_\w+"  # Stripe API keys
    r"|\bwhsec_\w+"  # webhook signing secrets
    r"|\bBearer\s+[\w.~+/-]+=*"  # bearer credentials
    r"|\beyJ[\w-]+\.[\w-]+\.[\w-]*"  # JWTs (base64url JSON header)
    r"|\bv1=[0-9a-f]{64}\b"  # Stripe-Signature digests
    r"|(?<=://)[^/\s:@]*:[^/\s@]+(?=@)",  # user:password in URLs
    re.IGNORECASE,
)
MIN_MASKED = 4
"""Configured secrets shorter than this are not masked (they would mask ordinary text)."""
_configured: re.Pattern[str] | None = None
_DIGIT_RUNS = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return MASK if 13 <= len(digits) <= 19 and _luhn_valid(digits) else match.group()


def mask_values(secrets: Iterable[str]) -> None:
    """Mask these literal values (the process's configured secrets) in every log line."""
    global _configured  # logging is configured once per process
    values = sorted({s for s in secrets if len(s) >= MIN_MASKED}, key=len, reverse=True)
    _configured = re.compile("|".join(map(re.escape, values))) if values else None


def redact_text(text: str) -> str:
    """`text` with secrets and card-number-like digit runs masked."""
    if _configured is not None:
        text = _configured.sub(MASK, text)
    return _DIGIT_RUNS.sub(_mask_card, _SECRETS.sub(MASK, text))


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            k: MASK if isinstance(k, str) and SENSITIVE_KEYS.search(k) else _redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    if isinstance(value, BaseException):
        return redact_text(repr(value))
    return value


_PASSED_THROUGH = frozenset({"exc_info", "stack_info"})


def redact_secrets(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask sensitive keys' values and secrets inside any string,
    rendered tracebacks included (render them before this processor runs)."""
    for key, value in event_dict.items():
        if key in _PASSED_THROUGH or key.startswith("_"):
            continue
        event_dict[key] = MASK if SENSITIVE_KEYS.search(key) else _redact(value)
    return event_dict
