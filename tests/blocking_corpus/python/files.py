"""Files and paths inside coroutines."""
import asyncio
import codecs
import io
import pathlib
import shutil
from pathlib import Path

import aiofiles

CONFIG = Path("config.toml")


async def load(name: str, target: Path):
    with open(name) as handle:  # expect: py-open
        handle.read()
    data = io.open(name, "rb")  # expect: py-open
    codecs.open(name, encoding="utf-8")  # expect: py-open
    Path(name).read_text()  # expect: py-pathlib-io
    pathlib.Path(name).write_bytes(b"x")  # expect: py-pathlib-io
    CONFIG.read_text()  # expect: py-pathlib-io
    target.write_text("done")  # expect: py-pathlib-io
    (target / "sub" / "file.txt").read_bytes()  # expect: py-pathlib-io
    local = Path("a")
    local.open()  # expect: py-pathlib-io
    shutil.copy(name, "backup")  # expect: py-shutil
    print(data)


async def look_alikes(db, store, name):
    await db.open()
    store.open()
    conn = await store.open_connection()
    async with aiofiles.open(name) as handle:
        await handle.read()
    text = await asyncio.to_thread(Path(name).read_text)
    await asyncio.to_thread(shutil.copy, name, "backup")
    exists = Path(name).exists()  # expect: py-pathlib-io
    parts = Path(name).parts
    return conn, text, exists, parts


async def reassigned(name):
    # `p` is a Path on one branch and something else on the other: not typed.
    p = Path(name)
    if name.startswith("s3://"):
        p = make_remote(name)
    p.exists()


def sync_loader(name):
    with open(name) as handle:
        return handle.read()
