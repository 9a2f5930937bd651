"""Template previews: a kind rendered from the sample of its fact in its row of the table."""

from __future__ import annotations

from datetime import UTC, datetime

from notifications.adapters.templates import Renderer
from notifications.domain.kinds import KINDS
from notifications.domain.links import Links
from notifications.domain.model import Kind, Rendered
from notifications.domain.samples import Sample, details

SAMPLE_GROUP = "Sample group"


def preview(
    renderer: Renderer, links: Links, kind: Kind, *, amount: int, currency: str, locale: str
) -> Rendered:
    """`kind` rendered with sample data, `amount` in `currency`'s minor unit, in `locale`."""
    spec = KINDS[kind]
    sample = Sample(amount, currency.lower(), datetime.now(UTC))
    intent = spec.intent(spec.sample(sample), links)
    if intent.details_keys:  # as it goes out once Stripe's events have told their part
        intent = intent.completed([details(sample)])
    context = {**intent.context, "group_name": SAMPLE_GROUP}
    return renderer.render(kind, context, locale=locale)
