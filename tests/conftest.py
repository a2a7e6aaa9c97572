"""Shared test set-up: no network, and a `device` fixture that covers every device present."""

import ipaddress
import socket

import pytest
import torch


def _is_local(address) -> bool:
    # Unix sockets and loopback are fine (Jupyter kernels talk over them); anything else is not.
    if not isinstance(address, tuple):
        return True
    host = address[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex


def _guarded(original):
    def connect(self, address):
        if not _is_local(address):
            raise RuntimeError(f"tests must not use the network (tried to connect to {address})")
        return original(self, address)

    return connect


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Fail any test that opens a connection beyond this machine."""
    monkeypatch.setattr(socket.socket, "connect", _guarded(_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded(_connect_ex))
    monkeypatch.setattr(socket, "getaddrinfo", _no_lookup(socket.getaddrinfo))


def _no_lookup(original):
    def getaddrinfo(host, *args, **kwargs):
        if host not in (None, "localhost") and not _is_local((host,)):
            raise RuntimeError(f"tests must not use the network (tried to look up {host!r})")
        return original(host, *args, **kwargs)

    return getaddrinfo


@pytest.fixture(autouse=True, scope="session")
def one_cpu_thread():
    """Unit tests use small tensors: one CPU thread is as fast on an idle machine, and on a busy
    one two OpenMP threads spin against each other (measured here: 5x to 50x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


DEVICES = ["cpu"]
if torch.cuda.is_available():
    DEVICES.append("cuda")
if torch.backends.mps.is_available():
    DEVICES.append("mps")


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    """Run the test once on every device present: the CPU always, CUDA or MPS when there."""
    return torch.device(request.param)
