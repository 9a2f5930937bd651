"""What end-to-end and fault tests do to a whole running platform over HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tollgate_shared.infra.settings import DEV_STRIPE_KEY
from tollgate_shared.testing.core import wait_until
from tollgate_shared.web.auth import issue_token

T = TypeVar("T")


def log_tails(logs_dir: Path, lines: int = 40) -> str:
    """The end of every `*.log` under `logs_dir`, to explain a failure."""
    parts = []
    for log in sorted(logs_dir.glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        parts.append(f"--- {log.name}\n" + "\n".join(tail))
    return "\n".join(parts)


class PlatformClient:
    """What end-to-end and fault tests do to a whole running platform over HTTP. Subclasses
    say where things are (`service`, `emulator`), which secret signs tokens, how long to wait
    (`wait_timeout`, `wait_interval`) and which logs explain a timeout (`logs`)."""

    http: httpx.AsyncClient
    wait_timeout = 30.0
    wait_interval = 0.2

    def service(self, name: str) -> str:
        """The base URL of a service."""
        raise NotImplementedError

    @property
    def emulator(self) -> str:
        """The Stripe emulator's base URL."""
        raise NotImplementedError

    @property
    def jwt_secret(self) -> str:
        """The platform's `AUTH_JWT_SECRET`."""
        raise NotImplementedError

    def logs(self) -> str:
        """What the platform's processes logged last."""
        raise NotImplementedError

    def bearer(self, sub: str, **claims: Any) -> dict[str, str]:
        """Authorization headers with a JWT the platform accepts."""
        return {"Authorization": "Bearer " + issue_token(self.jwt_secret, sub=sub, **claims)}

    async def call(
        self,
        method: str,
        service: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        expect: int = 200,
    ) -> Any:
        """One request to a service; asserts the status and returns the JSON body."""
        response = await self.http.request(
            method, self.service(service) + path, headers=headers, json=json, params=params
        )
        assert response.status_code == expect, (
            f"{method} {service}{path}: {response.status_code} {response.text}"
        )
        return response.json() if response.content else None

    async def stripe(self, path: str, **params: Any) -> Any:
        """GET a Stripe API resource from the emulator."""
        response = await self.http.get(
            f"{self.emulator}/v1{path}",
            params=params,
            headers={"Authorization": f"Bearer {DEV_STRIPE_KEY}"},
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST to an emulator test control (`/_emulator/...`)."""
        response = await self.http.post(f"{self.emulator}/_emulator{path}", json=body or {})
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
        return response.json()

    async def until(
        self, condition: Callable[[], Awaitable[T] | T], *, message: str, timeout: float = 0
    ) -> T:
        """`wait_until` with the platform's deadline; on timeout, the processes' logs."""
        try:
            return await wait_until(
                condition,
                timeout=timeout or self.wait_timeout,
                interval=self.wait_interval,
                message=message,
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None
