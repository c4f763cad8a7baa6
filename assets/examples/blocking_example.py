"""An async handler with the classic mistakes find_blocking_calls reports."""

import asyncio
import time

import requests


async def fetch_report(url: str) -> str:
    time.sleep(0.1)                      # blocks the event loop
    response = requests.get(url)         # synchronous HTTP inside a coroutine
    asyncio.sleep(1)                     # a coroutine that is never awaited

    def parse(text: str) -> str:         # a sync helper: blocking is fine here
        time.sleep(0.01)
        return text.strip()

    return await asyncio.to_thread(parse, response.text)
