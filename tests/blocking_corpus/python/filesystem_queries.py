"""os.path, os, glob, shutil, archives and temporary files inside coroutines."""
import asyncio
import glob
import io
import os
import os.path
import shutil
import tarfile
import tempfile
import zipfile
from os.path import exists as path_exists
from pathlib import Path

import aiofiles.os


async def housekeeping(root: str, archive: str, blob: bytes):
    if os.path.exists(root):  # expect: py-os-path
        size = os.path.getsize(root)  # expect: py-os-path
    path_exists(archive)  # expect: py-os-path
    os.path.isdir(root) and os.path.isfile(archive)  # expect: py-os-path
    for name in os.listdir(root):  # expect: py-os-fs
        os.remove(os.path.join(root, name))  # expect: py-os-fs
    os.makedirs(root, exist_ok=True)  # expect: py-os-fs
    entries = list(os.scandir(root))  # expect: py-os-fs
    for _ in os.walk(root):  # expect: py-os-fs
        pass
    glob.glob("*.log")  # expect: py-os-fs
    os.stat(root)  # expect: py-os-fs
    os.rename(archive, archive + ".old")  # expect: py-os-fs
    shutil.which("git")  # expect: py-shutil
    shutil.disk_usage(root)  # expect: py-shutil
    with tarfile.open(archive) as tar:  # expect: py-archive-tempfile
        tar.extractall(root)  # expect: py-archive-tempfile
    zipfile.ZipFile(archive).extractall(root)  # expect: py-archive-tempfile
    tmp = tempfile.mkdtemp()  # expect: py-archive-tempfile
    with tempfile.NamedTemporaryFile() as handle:  # expect: py-archive-tempfile
        print(handle.name, tmp, size, entries)


async def look_alikes(root: str, blob: bytes, store):
    # Pure string work: no file system.
    joined = os.path.join(root, "a")
    base = os.path.basename(joined)
    name, ext = os.path.splitext(base)
    # In memory: nothing waits on the disk.
    zipfile.ZipFile(io.BytesIO(blob))
    tarfile.open(fileobj=io.BytesIO(blob))
    buffer = io.BytesIO()
    with zipfile.ZipFile(file=buffer, mode="w") as archive_in_memory:
        archive_in_memory.writestr("a.txt", blob)
    zipfile.ZipFile(buffer)
    # Handed to a thread, or async already.
    await asyncio.to_thread(os.path.exists, root)
    await asyncio.to_thread(shutil.rmtree, root)
    await aiofiles.os.remove(joined)
    # A method of the same name on something else.
    store.exists(root)
    store.remove(name)
    return ext


async def shadowed(path):
    # A local function named like a blocking one.
    def exists(p):
        return p in {"a", "b"}

    exists(path)
    os = FakeOs()
    os.remove(path)


def sync_helper(root):
    return os.path.exists(root) and os.listdir(root)


class FakeOs:
    def remove(self, path):
        return path
