"""SingleLine: names that may reach a mail header hold no line break or control character."""

from typing import Annotated

import pytest
from pydantic import StringConstraints, TypeAdapter, ValidationError

from tollgate_shared.web.validation import SingleLine

Name = TypeAdapter(Annotated[SingleLine, StringConstraints(min_length=1, max_length=12)])


@pytest.mark.parametrize(
    "value",
    ["a\r\nBcc: x@y", "a\nb", "a\rb", "a\x00b", "a\tb", "a\x7fb", "a\x85b", "a\u2028b", "ab\n"],
)
def test_control_characters_and_line_breaks_are_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="control characters"):
        Name.validate_python(value)


def test_one_line_is_trimmed_and_keeps_its_length_bounds() -> None:
    assert Name.validate_python("  Café Zürich ") == "Café Zürich"
    for value in ("   ", "x" * 13, 5):
        with pytest.raises(ValidationError):
            Name.validate_python(value)
