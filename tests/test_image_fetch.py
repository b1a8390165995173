""""Load image"'s fetch (`remote_image.py`) against real servers on loopback: it must not be a way
into the app's machine or network (issue 16), nor a way to exhaust it.

Two servers stand in: `inside` on 127.0.0.1, a service the app must never reach, and `outside` on
127.0.0.2, which the tests' allowance lets through as if it were a public host. The allowance lists
127.0.0.2 only, so a redirect or a name that leads from it to 127.0.0.1 exercises the check itself.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import ssl
import tracemalloc
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from secretgpt.interfaces.web_ui import remote_image
from secretgpt.interfaces.web_ui.remote_image import IMAGE_FAILED, MAX_IMAGE_BYTES, ImageFetcher, ImageFetchError

from tests.attestation.tls_pki import ServerIdentity, TestCA
from tests.support.leak_server import PNG, Answer, LeakServer

OUTSIDE = "127.0.0.2"
BOMB_BYTES = 100 * 1024 * 1024  # what the compressed answers below expand to


@pytest.fixture
def inside() -> Iterator[LeakServer]:
    server = LeakServer("127.0.0.1").start()
    yield server
    server.stop()


@pytest.fixture
def outside() -> Iterator[LeakServer]:
    server = LeakServer(OUTSIDE).start()
    yield server
    server.stop()


@pytest.fixture
def allowed() -> ImageFetcher:
    """A fetcher as the tests configure it: 127.0.0.2 counts as public, nothing else does."""
    return ImageFetcher([OUTSIDE])


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Counter[int]:
    """Bytes received from each server port by this process's sockets: what crossed the wire,
    whatever the HTTP client made of it."""
    received: Counter[int] = Counter()
    recv, recv_into = socket.socket.recv, socket.socket.recv_into

    def port(sock: socket.socket) -> int:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return -1  # the event loop's own socketpair, say
        try:
            return sock.getpeername()[1]
        except OSError:
            return -1

    def counted_recv(self: socket.socket, *args: object) -> bytes:
        data = recv(self, *args)  # type: ignore[arg-type]
        received[port(self)] += len(data)
        return data

    def counted_recv_into(self: socket.socket, *args: object) -> int:
        size = recv_into(self, *args)  # type: ignore[arg-type]
        received[port(self)] += size
        return size

    monkeypatch.setattr(socket.socket, "recv", counted_recv)
    monkeypatch.setattr(socket.socket, "recv_into", counted_recv_into)
    return received


def resolver(monkeypatch: pytest.MonkeyPatch, names: dict[str, list[str]]) -> list[str]:
    """Make each of `names` resolve to its addresses, in turn (one list per lookup, the last one
    repeated), at the socket edge; returns the names looked up, in order."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host: object, port: object, *args: object, **kwargs: object) -> list:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in names:
            return real(host, port, *args, **kwargs)  # type: ignore[arg-type]
        asked.append(name)
        turn = names[name][min(asked.count(name), len(names[name])) - 1]
        return real(turn, port, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


async def refused(fetcher: ImageFetcher, address: str) -> ImageFetchError:
    with pytest.raises(ImageFetchError) as caught:
        await fetcher.fetch(address)
    assert str(caught.value) == IMAGE_FAILED
    return caught.value


# --- where the app may connect ----------------------------------------------------------------------


async def test_the_default_fetcher_refuses_loopback(inside: LeakServer, outside: LeakServer) -> None:
    fetcher = ImageFetcher()  # what the app builds when SECRETGPT_IMAGE_FETCH_ALLOW_LOOPBACK is unset
    for server in (inside, outside):
        error = await refused(fetcher, f"{server.origin}/chart.png?q=secret")
        assert "loopback" in error.cause
    assert inside.requests == [] and outside.requests == []


async def test_the_allowance_lets_its_address_through_and_no_other(allowed: ImageFetcher, inside: LeakServer,
                                                                   outside: LeakServer) -> None:
    data_url = await allowed.fetch(f"{outside.origin}/chart.png?q=1")
    assert data_url.startswith("data:image/png;base64,")
    await refused(allowed, f"{inside.origin}/chart.png")
    assert inside.requests == [] and outside.paths() == ["/chart.png?q=1"]
    headers = outside.requests[0].headers
    assert headers["accept-encoding"] == "identity" and headers["host"] == f"{OUTSIDE}:{outside.port}"
    assert "cookie" not in headers and "referer" not in headers


async def test_names_that_resolve_inside_are_refused(monkeypatch: pytest.MonkeyPatch, allowed: ImageFetcher,
                                                     inside: LeakServer) -> None:
    resolver(monkeypatch, {"internal.test": ["127.0.0.1"], "mixed.test": ["93.184.216.34", "127.0.0.1"]})
    await refused(allowed, f"http://internal.test:{inside.port}/x.png")
    # One public address does not excuse an internal one: the client could connect to either.
    await refused(allowed, f"http://mixed.test:{inside.port}/x.png")
    await refused(allowed, f"http://localhost:{inside.port}/x.png")
    assert inside.requests == []


@pytest.mark.parametrize(("host", "server"), [
    ("0x7f000002", "outside"), ("2130706434", "outside"),
    ("127.1", "inside"), ("017700000001", "inside"), ("0x7f.1", "inside"),
])
async def test_odd_numeric_hosts_are_refused_by_what_they_resolve_to(host: str, server: str,
                                                                    request: pytest.FixtureRequest) -> None:
    target: LeakServer = request.getfixturevalue(server)
    error = await refused(ImageFetcher(), f"http://{host}:{target.port}/x.png")
    assert target.requests == [] and "loopback" in error.cause


async def test_a_redirect_into_the_machine_is_refused(allowed: ImageFetcher, inside: LeakServer,
                                                      outside: LeakServer) -> None:
    for path, location in [("/to-ip", f"{inside.origin}/x.png"), ("/to-name", f"http://localhost:{inside.port}/x"),
                           ("/to-hex", f"http://0x7f000001:{inside.port}/x"), ("/to-v6", f"http://[::1]:{inside.port}/")]:
        outside.answers[path] = Answer(302, {"Location": location}, b"")
        error = await refused(allowed, f"{outside.origin}{path}")
        assert "loopback" in error.cause, error.cause
    assert inside.requests == [] and outside.paths() == ["/to-ip", "/to-name", "/to-hex", "/to-v6"]


async def test_redirects_are_followed_three_times_at_most(allowed: ImageFetcher, outside: LeakServer) -> None:
    for hop in range(1, 5):
        outside.answers[f"/hop{hop}"] = Answer(301 + hop % 2, {"Location": f"/hop{hop + 1}"}, b"")
    outside.answers["/hop5"] = Answer(body=PNG)
    assert (await allowed.fetch(f"{outside.origin}/hop2")).startswith("data:image/png")  # 3 redirects
    assert "redirects" in (await refused(allowed, f"{outside.origin}/hop1")).cause
    outside.answers["/ftp"] = Answer(302, {"Location": "ftp://example.com/x.png"}, b"")
    await refused(allowed, f"{outside.origin}/ftp")


async def test_the_name_is_resolved_once_and_the_checked_address_is_the_one_connected_to(
        monkeypatch: pytest.MonkeyPatch, outside: LeakServer) -> None:
    """DNS rebinding: the name answers 127.0.0.2 (allowed) to the check and 127.0.0.1 after it."""
    inside = LeakServer("127.0.0.1", port=outside.port).start()
    try:
        asked = resolver(monkeypatch, {"rebind.test": [OUTSIDE, "127.0.0.1"]})
        data_url = await ImageFetcher([OUTSIDE]).fetch(f"http://rebind.test:{outside.port}/x.png")
    finally:
        inside.stop()
    assert data_url.startswith("data:image/png") and inside.requests == [] and asked == ["rebind.test"]
    assert outside.requests[0].headers["host"] == f"rebind.test:{outside.port}"  # the name, not the address


def tls_server(tmp_path: Path, name: str) -> tuple[LeakServer, ssl.SSLContext, list[str | None]]:
    """An HTTPS server on 127.0.0.2 with a certificate for `name` only, from a test CA; the context
    that trusts that CA; and the SNI names the server was sent."""
    ca = TestCA()
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                   .issuer_name(ca.certificate.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
                   .not_valid_after(now + dt.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
                   .sign(ca.key, hashes.SHA256()))
    server = ServerIdentity(certificate, key).server_context(tmp_path)
    names: list[str | None] = []
    server.sni_callback = lambda _sock, sni, _ctx: names.append(sni)  # type: ignore[assignment,misc]
    client = ssl.create_default_context(cafile=str(ca.write_bundle(tmp_path / "ca.pem")))
    return LeakServer(OUTSIDE, tls=server).start(), client, names


async def test_https_connects_to_the_checked_address_with_the_name_for_tls(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    server, trusted, names = tls_server(tmp_path, "images.test")
    try:
        resolver(monkeypatch, {"images.test": [OUTSIDE], "other.test": [OUTSIDE]})
        fetcher = ImageFetcher([OUTSIDE], ssl_context=trusted)
        assert (await fetcher.fetch(f"https://images.test:{server.port}/x.png")).startswith("data:image/png")
        # The same address under a name its certificate does not carry: the certificate is checked
        # against the name, not the address connected to (the handshake fails, nothing is asked).
        await refused(fetcher, f"https://other.test:{server.port}/x.png")
    finally:
        server.stop()
    assert names == ["images.test", "other.test"] and server.paths() == ["/x.png"]
    assert server.requests[0].headers["host"] == f"images.test:{server.port}"


# --- how much it reads ------------------------------------------------------------------------------


def compressed(encoding: str) -> bytes:
    """A PNG signature followed by BOMB_BYTES of zeros, compressed (a few hundred KB at most)."""
    block = bytes(1024 * 1024)
    if encoding == "zstd":
        compressor = zstandard.ZstdCompressor().compressobj()
        return b"".join([compressor.compress(PNG), *(compressor.compress(block) for _ in range(100)),
                         compressor.flush()])
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # the gzip container
    return b"".join([compressor.compress(PNG), *(compressor.compress(block) for _ in range(100)), compressor.flush()])


@pytest.mark.parametrize("encoding", ["zstd", "gzip"])
async def test_a_compressed_bomb_is_refused_without_decoding_it(encoding: str, allowed: ImageFetcher,
                                                               outside: LeakServer, wire: Counter[int]) -> None:
    body = compressed(encoding)
    assert len(body) < 200_000
    outside.answers["/bomb.png"] = Answer(headers={"Content-Type": "image/png", "Content-Encoding": encoding},
                                          body=body)
    tracemalloc.start()
    try:
        error = await refused(allowed, f"{outside.origin}/bomb.png")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Decoding even one network read of it allocates tens of MB; refusing it allocates nearly nothing.
    assert peak < 8 * 1024 * 1024, f"{peak / 1e6:.0f} MB allocated while fetching"
    assert wire[outside.port] <= len(body) + 4096
    assert encoding in error.cause


async def test_an_endless_body_is_cut_at_the_cap_counted_on_the_wire(allowed: ImageFetcher, outside: LeakServer,
                                                                     wire: Counter[int]) -> None:
    def endless() -> Iterator[bytes]:
        yield PNG
        while True:
            yield bytes(64 * 1024)

    outside.answers["/endless.png"] = Answer(body=endless)
    outside.answers["/declared.png"] = Answer(headers={"Content-Type": "image/png",
                                                       "Content-Length": str(MAX_IMAGE_BYTES + 1)}, body=PNG)
    assert "larger" in (await refused(allowed, f"{outside.origin}/endless.png")).cause
    assert MAX_IMAGE_BYTES - 64 * 1024 < wire[outside.port] <= MAX_IMAGE_BYTES + 256 * 1024
    before = wire[outside.port]
    assert "larger" in (await refused(allowed, f"{outside.origin}/declared.png")).cause
    assert wire[outside.port] - before < 4096  # refused on its headers


# --- what a failure says ----------------------------------------------------------------------------


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


async def test_every_failure_reads_the_same_sentence(allowed: ImageFetcher, outside: LeakServer,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote_image, "TIMEOUT", 0.5)
    answers = {
        "/401": Answer(401, {"WWW-Authenticate": "Basic"}, b""), "/500": Answer(500, {}, b"oops"),
        "/html": Answer(headers={"Content-Type": "text/html"}, body=b"<html>admin</html>"),
        "/svg": Answer(headers={"Content-Type": "image/svg+xml"}, body=b"<svg/>"),
        "/untyped": Answer(headers={}, body=PNG), "/not-png": Answer(body=b"SSH-2.0-OpenSSH_9.2\r\n"),
        "/slow": Answer(delay=2.0), "/no-location": Answer(302, {}, b""),
        "/gzip-framed": Answer(headers={"Content-Type": "image/png", "Transfer-Encoding": "gzip"},
                               body=zlib.compress(PNG)),
    }
    outside.answers.update(answers)
    addresses = [f"{outside.origin}{path}" for path in answers] + [
        f"{outside.origin}/missing/x.png", f"http://{OUTSIDE}:{free_port(OUTSIDE)}/closed.png",
        "ftp://example.com/x.png", "javascript:alert(1)", "http://[::1/x.png", "http:///x.png",
        "http://127.0.0.1/x.png", "http://10.0.0.1/x.png", "http://169.254.169.254/latest/meta-data/",
    ]
    causes = [(await refused(allowed, address)).cause for address in addresses]
    assert len(set(causes)) >= 13, causes  # different paths to failure, one sentence for all


async def test_the_log_names_the_host_not_the_path_or_query(allowed: ImageFetcher, outside: LeakServer,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=remote_image.__name__)
    await refused(allowed, f"{outside.origin}/missing/pin-4921.png?q=bank+PIN+4921")
    await allowed.fetch(f"{outside.origin}/chart-4921.png?q=bank+PIN+4921")
    logged = [r.getMessage() for r in caplog.records if r.name == remote_image.__name__]
    assert len(logged) == 2 and all(OUTSIDE in line for line in logged), logged
    assert not any("4921" in line or "missing" in line for line in logged), logged
