"""Stripe's wire format: form-encoded nested keys (`a[b][c]`, `a[0]`, `a[]`) and typed reads."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from stripe_emulator.errors import invalid, missing_param

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def parse_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Turn decoded form or query pairs into nested dicts and lists, as Stripe reads them."""
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        match = _KEY.match(raw_key)
        if match is None:
            raise invalid(f"Invalid parameter name: {raw_key}", param=raw_key)
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            key = str(len(node)) if part == "" else part
            if last:
                node[key] = value
            else:
                node = node.setdefault(key, {})
                if not isinstance(node, dict):
                    raise invalid(f"Invalid parameter: {raw_key}", param=raw_key)
    parsed: dict[str, Any] = _listify(root)
    return parsed


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _listify(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


class Params:
    """Typed, validating access to one level of request parameters."""

    def __init__(self, data: dict[str, Any], prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix

    def _name(self, name: str) -> str:
        return f"{self.prefix}[{name}]" if self.prefix else name

    def has(self, name: str) -> bool:
        return name in self.data

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                raise missing_param(self._name(name))
            return None
        if not isinstance(value, str):
            raise invalid(f"Invalid string: {value!r}", param=self._name(name))
        return value

    def req(self, name: str) -> str:
        value = self.text(name, required=True)
        assert value is not None
        return value

    def integer(self, name: str, *, required: bool = False) -> int | None:
        value = self.text(name, required=required)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise invalid(f"Invalid integer: {value}", param=self._name(name)) from None

    def decimal(self, name: str) -> float | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            raise invalid(f"Invalid decimal: {value}", param=self._name(name)) from None

    def flag(self, name: str) -> bool | None:
        value = self.text(name)
        if value is None:
            return None
        if value not in ("true", "false"):
            raise invalid(f"Invalid boolean: {value}", param=self._name(name))
        return value == "true"

    def choice(self, name: str, options: tuple[str, ...], *, required: bool = False) -> str | None:
        value = self.text(name, required=required)
        if value is not None and value not in options:
            raise invalid(
                f"Invalid {name}: must be one of {', '.join(options)}", param=self._name(name)
            )
        return value

    def sub(self, name: str) -> Params:
        value = self.data.get(name)
        if value in (None, ""):
            value = {}
        if not isinstance(value, dict):
            raise invalid(f"Invalid object: {name}", param=self._name(name))
        return Params(value, self._name(name))

    def items(self, name: str) -> list[Params]:
        value = self.data.get(name)
        if value in (None, ""):
            return []
        if isinstance(value, dict):
            raise invalid(f"Invalid array: {name}", param=self._name(name))
        if not isinstance(value, list):
            value = [value]
        return [
            Params(item if isinstance(item, dict) else {}, f"{self._name(name)}[{index}]")
            for index, item in enumerate(value)
        ]

    def strings(self, name: str) -> list[str]:
        value = self.data.get(name)
        if value in (None, ""):
            return []
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str) for item in values):
            raise invalid(f"Invalid array: {name}", param=self._name(name))
        return list(values)

    def metadata(self, current: dict[str, str] | None = None) -> dict[str, str]:
        """Merge `metadata[...]` into `current`; an empty value unsets a key, `metadata=` all."""
        result = dict(current or {})
        value = self.data.get("metadata")
        if value == "":
            return {}
        if value is None:
            return result
        if not isinstance(value, dict):
            raise invalid("Invalid object", param=self._name("metadata"))
        for key, item in value.items():
            if not isinstance(item, str):
                raise invalid("Invalid metadata value", param=f"metadata[{key}]")
            if item == "":
                result.pop(key, None)
            else:
                result[key] = item
        return result
