"""What an async library hands back, non-blocking sockets, numeric lookups,
sockets from accept() and socketpair(), and coroutines run in threads (textual's
thread workers, mitmproxy's @concurrent)."""
import socket
import time
from pathlib import Path

import anyio
from textual import work
from textual.app import App

NUMERIC_ONLY = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
NUMERIC_ONLY |= getattr(socket, "AI_V4MAPPED", 0)
PASSIVE = socket.AI_PASSIVE


async def awaited_results(session, conn, cur, query):
    result = await session.execute(query)
    result.fetchall()
    (await conn.execute(query)).fetchone()
    async with conn.execute(query) as cursor:
        cursor.fetchmany(10)
    cur.fetchall()  # expect: py-sync-db


async def async_sources(root):
    base = anyio.Path(root) / "data"
    async for child in base.iterdir():
        print(child)
    async with await anyio.open_file(root) as handle:
        await handle.read()
    names = [child async for child in base.glob("*.txt")]
    return names


async def paths_on_the_right(root, name):
    (root / Path(".ignore")).exists()  # expect: py-pathlib-io
    ("data" / Path(name)).unlink()  # expect: py-pathlib-io


async def nonblocking_sockets(address):
    sock = socket.socket()
    sock.setblocking(False)
    other = socket.socket()
    try:
        other.connect(address)
    except BlockingIOError:
        pass
    try:
        other.connect(address)  # expect: py-socket
    except OSError:
        pass
    return sock


async def numeric_lookups(host, port):
    socket.getaddrinfo(host, port, flags=socket.AI_NUMERICHOST)
    socket.getaddrinfo(host, port, 0, 0, 0, NUMERIC_ONLY)
    socket.getaddrinfo(host, port, flags=PASSIVE)  # expect: py-socket
    socket.getaddrinfo(host, port)  # expect: py-socket


async def accepted(port):
    server = socket.create_server(("127.0.0.1", port))
    conn, address = server.accept()  # expect: py-socket
    conn.recv(1)  # expect: py-socket
    left, right = socket.socketpair()
    left.sendall(b"x")  # expect: py-socket
    right.setblocking(False)
    right.recv(1)
    return address


class Worker(App):
    @work(thread=True)
    async def load(self):
        time.sleep(1)

    @work(exclusive=True)
    async def refresh(self):
        time.sleep(1)  # expect: py-time-sleep

    async def fetch(self):
        time.sleep(1)

    async def poll(self):
        time.sleep(1)  # expect: py-time-sleep

    def on_mount(self):
        self.run_worker(self.fetch, thread=True)
        self.run_worker(self.poll)


class Wrapped:
    def __init__(self, sock: socket.socket, raw: socket.socket):
        self._sock = sock
        self._sock.setblocking(False)
        self._raw = raw

    async def connect(self, address):
        self._sock.connect(address)
        self._raw.connect(address)  # expect: py-socket


async def readiness(sock: socket.socket, other: socket.socket):
    await anyio.wait_socket_readable(sock)
    sock.recv(10)
    other.recv(10)  # expect: py-socket


from mitmproxy.script import concurrent


@concurrent
async def request(flow):
    time.sleep(0.25)


async def response(flow):
    time.sleep(0.25)  # expect: py-time-sleep
