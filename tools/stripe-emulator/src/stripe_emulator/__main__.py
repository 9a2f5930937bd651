"""`python -m stripe_emulator` / `stripe-emulator`: serve the emulator with uvicorn."""

import argparse
import dataclasses
import os

import uvicorn

from stripe_emulator.app import create_app
from stripe_emulator.limits import RATES
from stripe_emulator.settings import Settings, WebhookTarget


def parse_args(argv: list[str] | None = None) -> Settings:
    base = Settings.from_env()
    parser = argparse.ArgumentParser(prog="stripe-emulator", description=__doc__)
    parser.add_argument("--host", default=base.host)
    parser.add_argument("--port", type=int, default=base.port)
    parser.add_argument(
        "--test-mode",
        action="store_true",
        default=base.test_mode,
        help="enable /_emulator test controls and short webhook retry backoff",
    )
    parser.add_argument(
        "--public-url",
        default=base.public_url,
        help="base URL for checkout and portal page links (default http://HOST:PORT)",
    )
    parser.add_argument(
        "--rate-limits",
        choices=sorted(RATES),
        default=base.rate_limits,
        help="enforce Stripe's live-mode or test-mode rate limits on /v1 (default off)",
    )
    parser.add_argument(
        "--webhook",
        action="append",
        default=[],
        metavar="URL=whsec_SECRET",
        help="deliver every event to URL signed with SECRET (repeatable)",
    )
    args = parser.parse_args(argv)
    webhooks = list(base.webhooks)
    for spec in args.webhook:
        url, sep, secret = spec.rpartition("=")
        if not sep or not secret.startswith("whsec_"):
            parser.error(f"--webhook expects URL=whsec_SECRET, got {spec!r}")
        webhooks.append(WebhookTarget(url=url, secret=secret))
    return dataclasses.replace(
        base,
        host=args.host,
        port=args.port,
        test_mode=args.test_mode,
        public_url=args.public_url,
        rate_limits=args.rate_limits,
        webhooks=tuple(webhooks),
    )


def main(argv: list[str] | None = None) -> None:
    settings = parse_args(argv)
    mode = "test mode, /_emulator controls on" if settings.test_mode else "controls off"
    mode += f", rate limits {settings.rate_limits}"
    print(f"Stripe emulator listening on {settings.base_url} ({mode})", flush=True)
    for target in settings.webhooks:
        print(f"  webhooks -> {target.url}", flush=True)
    log_level = os.environ.get("STRIPE_EMULATOR_LOG_LEVEL", "warning")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=log_level)


if __name__ == "__main__":
    main()
