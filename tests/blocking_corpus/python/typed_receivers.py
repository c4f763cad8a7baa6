"""Receivers typed by annotation (also Optional), tuple unpacking and helpers."""
import sqlite3
import typing
from pathlib import Path
from typing import Optional, Union

import httpx
import anyio
import urllib3

DB = "jobs.db"


def open_db():
    conn = sqlite3.connect(DB)
    return conn


def maybe_db(flag):
    if flag:
        return sqlite3.connect(DB)
    return None


async def annotated(a: Path | None, b: Optional[Path], c: "Path", d: Union[Path, None] = None):
    a.read_text()  # expect: py-pathlib-io
    b.exists()  # expect: py-pathlib-io
    c.exists()
    d.mkdir()  # expect: py-pathlib-io
    e: typing.Optional[Path] = None
    e.touch()  # expect: py-pathlib-io


async def unpacked(x, y):
    p1, p2 = Path(x), Path(y)
    p1.unlink()  # expect: py-pathlib-io
    p2.parent.mkdir(parents=True)  # expect: py-pathlib-io
    first, *rest = Path(x), Path(y)
    first.unlink()  # expect: py-pathlib-io


async def through_a_helper():
    conn = open_db()
    conn.execute("select 1")  # expect: py-sync-db
    maybe = maybe_db(True)
    maybe.execute("select 1")


async def http_clients(client: httpx.Client, pool: urllib3.PoolManager):
    with client.stream("GET", "https://example.com") as response:  # expect: py-httpx-sync
        print(response)
    client.close()  # expect: py-httpx-sync
    pool.request("GET", "https://example.com")  # expect: py-urllib
    urllib3.request("GET", "https://example.com")  # expect: py-urllib


async def unrelated(client: httpx.AsyncClient, conn):
    async with client.stream("GET", "https://example.com") as response:
        print(response)
    await client.aclose()
    conn.execute("select 1")


async def test_fixture_paths(tmp_path, data_file, reader):
    (tmp_path / "a.txt").write_text("x")  # expect: py-pathlib-io
    tmp_path.joinpath("b").mkdir()  # expect: py-pathlib-io
    data_file("photo.jpg").read_bytes()  # expect: py-pathlib-io
    await reader.read_text()
    await anyio.Path("x").read_text()


class Document:
    def read_text(self):
        return self.cached

    def is_file(self):
        return True

    async def render(self, other):
        text = self.read_text()
        assert self.is_file()
        other.read_text()  # expect: py-pathlib-io
        return text


async def helpers_and_fixtures(jp_root_dir, data_file, self_made, db, store):
    kernel_root = jp_root_dir / "more" / "segments"
    kernel_root.mkdir(parents=True)  # expect: py-pathlib-io
    (jp_root_dir / "sub").exists()  # expect: py-pathlib-io
    with data_file("photo.jpg").open("rb") as photo:  # expect: py-pathlib-io
        print(photo)
    db.cursor.fetchone()  # expect: py-sync-db
    jp_root_dir.joinpath("files").mkdir()  # expect: py-pathlib-io
    self_made.output.unlink(missing_ok=True)  # expect: py-pathlib-io
    self_made.folder.mkdir(parents=True)  # expect: py-pathlib-io
    self_made.unlink()
    self_made.mkdir(mode)
    if self_made.target.is_file():  # expect: py-pathlib-io
        print(await self_made.other.is_dir())
    # Look-alikes: a division, an open of something else, awaited fetches.
    ratio = self_made / 2
    store.open("photo.jpg")
    store.open(mode)
    rows = await db.fetchall()
    return ratio, rows
