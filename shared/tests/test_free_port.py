"""`free_port` gives ports a server can bind, outside the range outgoing connections take."""

import socket
from types import SimpleNamespace

import pytest

from tollgate_shared.infra import process
from tollgate_shared.infra.process import EPHEMERAL_PORTS, LOWEST_PORT, free_port


@pytest.mark.skipif(not EPHEMERAL_PORTS.exists(), reason="the kernel's port range is not known")
def test_ports_are_bindable_and_below_the_range_of_outgoing_connections() -> None:
    first_ephemeral = int(EPHEMERAL_PORTS.read_text().split()[0])
    if first_ephemeral <= LOWEST_PORT + 1_000:
        pytest.skip("no room below this kernel's range of outgoing ports")
    ports = [free_port() for _ in range(50)]
    assert all(LOWEST_PORT <= port < first_ephemeral for port in ports)
    assert len(set(ports)) > 40  # picked at random, not one port over and over
    for port in ports[:5]:
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))
            server.listen()


@pytest.mark.skipif(not EPHEMERAL_PORTS.exists(), reason="the kernel's port range is not known")
def test_a_port_in_use_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        busy = taken.getsockname()[1]
        other = free_port()
        picks = iter([busy, busy, other])
        monkeypatch.setattr(process, "_RANDOM", SimpleNamespace(randrange=lambda *_: next(picks)))
        assert free_port() == other
