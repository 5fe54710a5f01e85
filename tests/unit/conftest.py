import pytest


@pytest.fixture(autouse=True)
def _no_network(socket_disabled):
    """Unit tests never touch the network (pytest-socket)."""
    yield
