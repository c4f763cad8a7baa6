"""Database sessions, browsers, media files, directory entries, and their look-alikes."""
import asyncio
import io
import os
import webbrowser

import av
from PIL import Image
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from sqlalchemy.ext.asyncio import AsyncSession


class Handler:
    async def post(self, name):
        # A synchronous session behind an attribute of unknown type.
        self.db.add(name)
        self.db.commit()  # expect: py-sync-session
        self._db.rollback()  # expect: py-sync-session
        self.app.session.commit()  # expect: py-sync-session

    async def with_an_async_session(self, name):
        # The same function awaits the session's methods: an async one.
        await self.db.execute("select 1")
        self.db.commit()


async def annotated(db: Session, engine_url):
    db.execute("select 1")  # expect: py-sync-session
    db.refresh(object())  # expect: py-sync-session
    # Making a session does no I/O; its queries do.
    with Session(create_engine(engine_url)) as session:
        session.scalars("select 1")  # expect: py-sync-session
    engine = create_engine(engine_url)
    with engine.connect() as conn:  # expect: py-sync-session
        conn.execute("select 1")  # expect: py-sync-session


async def async_sessions(session: AsyncSession, db, conn):
    await session.commit()
    await db.commit()
    async with conn.begin():
        conn.rollback()


async def commits_of_other_things(repo, transaction, child, tx):
    # Named like something else: a git index, a transaction object.
    repo.index.commit("message")
    transaction.commit()
    child.rollback()
    tx.commit()


def sync_handler(db):
    db.commit()


async def browse(url):
    webbrowser.open(url)  # expect: py-webbrowser
    webbrowser.open_new_tab(url)  # expect: py-webbrowser
    await asyncio.to_thread(webbrowser.open, url)


async def media(path, data, buffer):
    Image.open(path)  # expect: py-media-open
    av.open(path, "r")  # expect: py-media-open
    Image.open(io.BytesIO(data))
    in_memory = io.BytesIO(data)
    Image.open(in_memory)
    await asyncio.to_thread(Image.open, path)


async def entries(root, fd):
    for entry in os.scandir(root):  # expect: py-os-fs
        entry.stat()  # expect: py-os-fs
        entry.is_dir()
    with os.scandir(root) as listing:  # expect: py-os-fs
        for each in listing:
            each.stat(follow_symlinks=False)  # expect: py-os-fs
    handle = os.open(os.devnull, os.O_RDONLY)  # expect: py-os-fs
    os.path.sameopenfile(handle, fd)  # expect: py-os-path
    os.close(handle)


async def walrus(base):
    (made := base / "cache").mkdir()  # expect: py-pathlib-io
    return made


async def not_entries(items):
    for entry in items:
        entry.stat()
