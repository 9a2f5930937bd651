"""Object ids with Stripe's prefixes."""

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def random_token(length: int = 24) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(prefix: str, length: int = 24) -> str:
    """An id such as `cus_Ab3...`; checkout sessions use `cs_test_`."""
    return f"{prefix}_{random_token(length)}"
