"""Links a notification points its reader to, on the public site."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode


@dataclass(frozen=True)
class Links:
    base_url: str
    billing_portal_path: str = "/account/billing"

    def billing_portal(self, group_id: str | None) -> str:
        """The page that opens Stripe's billing portal (`POST /billing-portal/sessions`)."""
        query = f"?{urlencode({'group_id': group_id})}" if group_id else ""
        return f"{self.base_url.rstrip('/')}{self.billing_portal_path}{query}"

    def group(self, group_id: str | None) -> str:
        """The group's page, where members join and renew."""
        return f"{self.base_url.rstrip('/')}/groups/{quote(group_id or '', safe='')}"
