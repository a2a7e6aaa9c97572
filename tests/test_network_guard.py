import socket

import pytest


def test_outside_connection_is_refused():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(RuntimeError, match="network"):
        s.connect(("93.184.216.34", 80))
    s.close()


def test_name_lookup_is_refused():
    with pytest.raises(RuntimeError, match="network"):
        socket.getaddrinfo("pypi.org", 443)


def test_loopback_is_allowed():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.socket()
    client.connect(server.getsockname())  # must not raise
    client.close()
    server.close()
