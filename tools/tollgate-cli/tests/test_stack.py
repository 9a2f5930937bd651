"""A second `tollgate run --port-offset N` beside a running one keeps its data apart: starting
stops only the servers a previous run left in its own directory."""

from pathlib import Path

from tollgate_cli.stack import var_dir_for
from tollgate_shared.infra.nats import start_nats
from tollgate_shared.infra.process import free_port


def test_a_second_stack_never_stops_the_first(tmp_path: Path) -> None:
    first = start_nats(tmp_path / var_dir_for(0), port=free_port())
    try:
        second = start_nats(tmp_path / var_dir_for(1000), port=free_port())
        second.stop()
        assert first.proc.poll() is None, "the first stack's NATS was stopped"
        again = start_nats(tmp_path / var_dir_for(0), port=free_port())
        again.stop()
        assert first.proc.poll() is not None, "a stale server of the same stack is stopped"
    finally:
        first.stop()
