"""Cursors: what `encode_cursor` hands out decodes to the same key; anything else is a 422."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tollgate_shared.persistence.pagination import decode_cursor, encode_cursor, split_page
from tollgate_shared.web.errors import ApiError

AT = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("key", "kinds"),
    [
        ((AT, "ch_1"), (datetime, str)),
        ((AT.astimezone(timezone(timedelta(hours=-5))), "é/ü"), (datetime, str)),
        ((2**63 - 1,), (int,)),
        ((-(2**63), "x" * 200), (int, str)),
    ],
)
def test_a_cursor_decodes_to_the_key_it_was_made_from(
    key: tuple[datetime | int | str, ...], kinds: tuple[type, ...]
) -> None:
    cursor = encode_cursor(*key)
    assert cursor.replace("-", "").replace("_", "").isalnum()
    assert decode_cursor(cursor, *kinds) == key


@pytest.mark.parametrize(
    ("cursor", "kinds"),
    [
        ("", (str,)),
        ("a", (str,)),  # not base64
        ("_w", (str,)),  # not UTF-8
        (encode_cursor("a", "b"), (str,)),  # another length
        (encode_cursor(2**63), (int,)),
        (encode_cursor(True), (int,)),
        (encode_cursor("1"), (int,)),
        (encode_cursor(1.5), (int,)),
        (encode_cursor("2026-03-01T00:00:00"), (datetime,)),  # no offset
        (encode_cursor("March"), (datetime,)),
        (encode_cursor(7), (datetime,)),
        (encode_cursor("a\x00b"), (str,)),
        (encode_cursor("\ud800"), (str,)),
        (encode_cursor(None), (str,)),
    ],
)
def test_anything_else_is_refused_as_an_invalid_cursor(
    cursor: str, kinds: tuple[type, ...]
) -> None:
    with pytest.raises(ApiError) as refused:
        decode_cursor(cursor, *kinds)
    assert (refused.value.status_code, refused.value.code) == (422, "invalid_cursor")


def test_a_page_read_with_one_row_more_knows_whether_it_is_the_last() -> None:
    assert split_page([1, 2, 3, 4], 3) == ([1, 2, 3], 3)
    assert split_page([1, 2, 3], 3) == ([1, 2, 3], None)
    assert split_page([], 3) == ([], None)
