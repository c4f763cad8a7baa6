"""Async libraries whose names look like blocking ones."""
import asyncio
from asyncio import sleep
from pathlib import Path

import anyio
from aiofiles import open
from anyio import Path as AsyncPath


class Store:
    base = Path("data")

    def __init__(self, requests):
        self.requests = requests

    async def fetch(self, url):
        await sleep(1)
        async with open("cache.json") as handle:
            await handle.read()
        await AsyncPath("x").read_text()
        await anyio.Path("y").write_text("z")
        response = await self.requests.get(url)
        self.base.read_text()  # expect: py-pathlib-io
        return response

    async def stats(self):
        sleep(1)  # expect: py-coroutine-not-awaited
        open("cache.json")
        await asyncio.sleep(0)
