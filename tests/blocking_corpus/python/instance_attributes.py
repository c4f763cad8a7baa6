"""Attributes of self: typed by what the class assigns, its properties and
methods (annotated or by their returns), and what a base class of the file
says; a fallback import does not hide the module the try imports."""
from pathlib import Path

try:
    import sqlite3
except ImportError:
    from pysqlite2 import dbapi2 as sqlite3

import aiosqlite


def make_path(name: str, root: Path | None) -> Path:
    if root is None:
        return Path(name)
    return root / name


class Store:
    _cursor = None

    def __init__(self, root):
        self.db = sqlite3.connect(":memory:")
        self.root = Path(root)
        self.lock_file = make_path("lock", self.root)
        self.maybe = None

    @property
    def cursor(self):
        if self._cursor is None:
            self._cursor = self.db.cursor()
        return self._cursor

    @property
    def destination(self) -> Path:
        return self.root.parent

    def entry(self, key) -> Path:
        return self.root.joinpath(key)

    def note(self, key):
        return key

    @staticmethod
    def helper(self):
        self.root.exists()

    async def save(self, key, row):
        self.db.execute("insert into t values (?)", (row,))  # expect: py-sync-db
        self.cursor.execute("select 1")  # expect: py-sync-db
        self.destination.exists()  # expect: py-pathlib-io
        self.entry(key).exists()  # expect: py-pathlib-io
        self.lock_file.touch()  # expect: py-pathlib-io
        self.note(key).exists()
        self.maybe.exists()

        async def later():
            self.root.exists()  # expect: py-pathlib-io

        return later


class Cache(Store):
    async def clear(self):
        self.root.iterdir()  # expect: py-pathlib-io
        for child in self.root.iterdir():  # expect: py-pathlib-io
            child.unlink()  # expect: py-pathlib-io


class AsyncStore(Store):
    """Overrides `db` with an async driver's connection: nothing known."""

    async def open(self):
        self.db = await aiosqlite.connect(":memory:")

    async def save(self, key, row):
        await self.db.execute("insert into t values (?)", (row,))
        self.db.execute("select 1")


class Mixed:
    def __init__(self, flag, other):
        self.target = Path("a") if flag else other
        self.where = Path("a")
        if flag:
            self.where = other

    async def run(self):
        self.target.exists()
        self.where.exists()


class Unrelated:
    """Same attribute names, no types: nothing is carried over by name."""

    def __init__(self, db, root):
        self.db = db
        self.root = root

    async def run(self):
        self.db.execute("select 1")
        self.root.exists()
