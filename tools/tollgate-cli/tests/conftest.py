import pytest


@pytest.fixture(scope="module")
def nats_url(isolated_nats_url: str) -> str:
    """These tests run services' durable consumers and read whole streams: a NATS of their own
    keeps other suites' messages out."""
    return isolated_nats_url
