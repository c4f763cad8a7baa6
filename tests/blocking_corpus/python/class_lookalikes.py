"""Look-alikes for the typing of self's attributes: nothing here is known to
block but the lines marked. What a class says is not taken from another
class of the same name, a base that says otherwise, or code that may
assign the attribute out of sight."""
import socket
import sqlite3
import time
from pathlib import Path

from aiolib import ImportedBase


def make_async_conn():
    ...


# Two bases, one with an unknown connection: nothing is known.
class SyncBase:
    def __init__(self):
        self.conn = sqlite3.connect(":memory:")


class AsyncBase:
    def __init__(self):
        self.conn = make_async_conn()


class Service(AsyncBase, SyncBase):
    async def run(self):
        self.conn.execute("select 1")


# Classes of one name in two functions: neither is the other's.
def first_test():
    class Handler:
        def __init__(self):
            self.sock = socket.socket()


def second_test(sock):
    class Handler:
        def __init__(self, sock):
            self.sock = sock

    class SubHandler(Handler):
        async def go(self):
            self.sock.recv(10)


# A nested class named like a module-level one.
class Outer:
    class Conn:
        def __init__(self):
            self.db = sqlite3.connect(":memory:")


class Conn:
    def __init__(self, db):
        self.db = db


class User(Conn):
    async def f(self):
        self.db.execute("select 1")


# A name imported and also defined: which one a subclass gets depends on order.
class Child(ImportedBase):
    async def f(self):
        self.conn.execute("select 1")


class ImportedBase:
    def __init__(self):
        self.conn = sqlite3.connect(":memory:")


# A class defined twice.
class Store:
    def __init__(self):
        self.db = sqlite3.connect(":memory:")


class Store:
    def __init__(self, db):
        self.db = db


class StoreUser(Store):
    async def f(self):
        self.db.execute("select 1")


# Assigned under a condition, by setattr, in a callback, in a classmethod.
class Conditional:
    def __init__(self, flag):
        self.conn = sqlite3.connect(":memory:")

    if time:

        def use_async(self):
            self.conn = make_async_conn()

    async def run(self):
        self.conn.execute("select 1")


class Swapped:
    def __init__(self):
        self.conn = sqlite3.connect(":memory:")

    def swap(self, other):
        setattr(self, "conn", other)

    async def run(self):
        self.conn.execute("select 1")


class Callback:
    def build(self):
        conn = sqlite3.connect(":memory:")

        def later(conn):
            self.other = conn

        return later

    async def run(self):
        self.other.execute("select 1")


class Repo:
    conn = sqlite3.connect(":memory:")

    @classmethod
    def configure(cls, conn):
        cls.conn = conn

    async def run(self):
        self.conn.execute("select 1")


# A method of the base hidden by a staticmethod, a class attribute or a
# method of the same name; an attribute hidden by a method.
class Connects:
    def connect(self) -> sqlite3.Connection:
        return sqlite3.connect(":memory:")

    async def run(self):
        self.connect().execute("select 1")  # expect: py-sync-db


class StaticConnects(Connects):
    @staticmethod
    def connect():
        return make_async_conn()

    async def run(self):
        self.connect().execute("select 1")


class AssignedConnects(Connects):
    connect = make_async_conn

    async def run(self):
        self.connect().execute("select 1")


class PathBase:
    path = Path("x")


class PathMethod(PathBase):
    def path(self):
        return "not a path"

    async def run(self):
        self.path.exists()


# A factory that makes its socket non-blocking, whatever its annotation says.
def nonblocking_socket() -> socket.socket:
    sock = socket.socket()
    sock.setblocking(False)
    return sock


def blocking_socket() -> socket.socket:
    return make_async_conn()


class Client:
    def __init__(self):
        self.sock = nonblocking_socket()
        self.other = socket.socket()
        self.other.setblocking(True)

    async def run(self):
        nonblocking_socket().send(b"x")
        self.sock.send(b"x")
        blocking_socket().send(b"x")  # expect: py-socket
        self.other.send(b"x")  # expect: py-socket


# An attribute holding what an await gave.
class Rows:
    async def open(self, conn):
        self.cur = await conn.cursor()

    async def run(self):
        self.cur.fetchall()


# A copy of a constant keeps its type.
ROOT = Path("/srv")
DATA_DIR = ROOT


async def constants():
    DATA_DIR.exists()  # expect: py-pathlib-io


# Module functions still block inside `try: .. except BlockingIOError`.
async def nonblocking_try(sock: socket.socket):
    try:
        sock.recv(10)
        socket.create_connection(("example.com", 80))  # expect: py-socket
    except BlockingIOError:
        pass


# textual runs this class's own method in a thread, not another object's.
class Screen:
    def on_mount(self, client):
        self.run_worker(client.fetch, thread=True)

    async def fetch(self):
        time.sleep(1)  # expect: py-time-sleep
