"""List objects with cursor pagination, and `expand[]` of ids into objects."""

import copy
from collections.abc import Callable, Sequence
from typing import Any

from stripe_emulator.errors import invalid
from stripe_emulator.store import Store, StripeObject
from stripe_emulator.wire import Params

MAX_LIMIT = 100

# (object type, field) -> builds the value of a field Stripe only returns when expanded.
Includes = dict[tuple[str, str], Callable[[StripeObject], Any]]


def list_object(url: str, data: list[StripeObject], *, has_more: bool = False) -> StripeObject:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def paginate(items: Sequence[StripeObject], params: Params, url: str) -> StripeObject:
    """One page of `items` (newest first) by `created` (exact or `gt`/`gte`/`lt`/`lte`),
    `limit`, `starting_after` and `ending_before`."""
    created = created_filter(params)
    items = [item for item in items if created(item.get("created"))]
    limit = params.integer("limit")
    if limit is None:
        limit = 10
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid(
            f"This value must be greater than or equal to 1 and less than or equal to {MAX_LIMIT}.",
            param="limit",
        )
    ids = [item["id"] for item in items]
    after = params.text("starting_after")
    before = params.text("ending_before")
    if after is not None:
        start = _position(ids, after, "starting_after") + 1
        page = list(items[start : start + limit])
        has_more = start + limit < len(items)
    elif before is not None:
        end = _position(ids, before, "ending_before")
        start = max(0, end - limit)
        page = list(items[start:end])
        has_more = start > 0
    else:
        page = list(items[:limit])
        has_more = len(items) > limit
    return list_object(url, page, has_more=has_more)


class CreatedFilter:
    """Stripe's `created` list parameter: bounds on the objects' creation time."""

    def __init__(
        self,
        *,
        gt: int | None = None,
        gte: int | None = None,
        lt: int | None = None,
        lte: int | None = None,
    ) -> None:
        self.gt, self.gte, self.lt, self.lte = gt, gte, lt, lte

    def __call__(self, created: int | None) -> bool:
        if created is None:
            return (self.gt, self.gte, self.lt, self.lte) == (None, None, None, None)
        return (
            (self.gt is None or created > self.gt)
            and (self.gte is None or created >= self.gte)
            and (self.lt is None or created < self.lt)
            and (self.lte is None or created <= self.lte)
        )


def created_filter(p: Params) -> CreatedFilter:
    """The `created` parameter: an exact time, or `created[gt|gte|lt|lte]`."""
    if isinstance(p.data.get("created"), str):
        exact = p.integer("created")
        return CreatedFilter(gte=exact, lte=exact)
    bounds = p.sub("created")
    for key in bounds.data:
        if key not in ("gt", "gte", "lt", "lte"):
            raise invalid(f"Received unknown parameter: created[{key}]", param=f"created[{key}]")
    return CreatedFilter(
        gt=bounds.integer("gt"),
        gte=bounds.integer("gte"),
        lt=bounds.integer("lt"),
        lte=bounds.integer("lte"),
    )


def _position(ids: list[str], cursor: str, param: str) -> int:
    try:
        return ids.index(cursor)
    except ValueError:
        raise invalid(f"No such object: '{cursor}'", param=param, code="resource_missing") from None


def expand(obj: StripeObject, paths: list[str], store: Store, includes: Includes) -> StripeObject:
    """A copy of `obj` with each dotted path's id replaced by the object it names."""
    result = copy.deepcopy(obj)
    for path in paths:
        _expand_path(result, path.split("."), path, store, includes)
    return result


def _expand_path(node: Any, parts: list[str], path: str, store: Store, includes: Includes) -> None:
    if isinstance(node, list):
        for item in node:
            _expand_path(item, parts, path, store, includes)
        return
    if not isinstance(node, dict) or not parts:
        raise invalid(f"This property cannot be expanded ({path}).", param="expand")
    head, rest = parts[0], parts[1:]
    include = includes.get((node.get("object", ""), head))
    value = node.get(head)
    if include is not None and (value is None or isinstance(value, str)):
        node[head] = include(node)
    elif isinstance(value, str):
        target = store.get(value)
        if target is None:
            raise invalid(f"This property cannot be expanded ({path}).", param="expand")
        node[head] = copy.deepcopy(target)
    elif head not in node:
        raise invalid(f"This property cannot be expanded ({path}).", param="expand")
    if rest and node[head] is not None:
        _expand_path(node[head], rest, path, store, includes)
