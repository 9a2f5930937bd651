"""`python -m mail_sink` / `mail-sink`: SMTP on one port, the page and JSON API on another."""

from __future__ import annotations

import argparse
import asyncio
import functools
from pathlib import Path

import uvicorn

from mail_sink.app import create_app
from mail_sink.smtp import SinkHandler, smtp_protocol
from mail_sink.store import MessageStore


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mail-sink", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--http-port", type=int, default=8025)
    parser.add_argument("--store", type=Path, help="also keep messages in this JSON-lines file")
    parser.add_argument(
        "--reject-domain",
        action="append",
        default=None,
        help="answer 550 for recipients at this domain (repeatable; default reject.test)",
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    store = MessageStore(args.store)
    handler = SinkHandler(store, args.reject_domain or ["reject.test"])
    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(
        functools.partial(smtp_protocol, handler), args.host, args.smtp_port
    )
    http = uvicorn.Server(
        uvicorn.Config(create_app(store), host=args.host, port=args.http_port, log_level="warning")
    )
    print(
        f"Mail sink: SMTP on {args.host}:{args.smtp_port}, "
        f"messages at http://{args.host}:{args.http_port}/",
        flush=True,
    )
    try:
        await http.serve()
    finally:
        smtp.close()
        await smtp.wait_closed()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
