"""Sleeping inside coroutines, under every import spelling."""
import asyncio
import time
import time as t
from time import sleep
from time import sleep as snooze


async def poll(url):
    time.sleep(0.5)  # expect: py-time-sleep
    t.sleep(1)  # expect: py-time-sleep
    sleep(2)  # expect: py-time-sleep
    snooze(3)  # expect: py-time-sleep
    await asyncio.sleep(1)
    await asyncio.to_thread(time.sleep, 1)
    await asyncio.get_running_loop().run_in_executor(None, time.sleep, 1)
    await asyncio.get_running_loop().run_in_executor(None, lambda: time.sleep(1))
    time.sleep(0)  # blocking: ok (startup only, measured)

    def backoff():
        # A sync helper: it runs wherever it is called, perhaps in a thread.
        time.sleep(1)

    await asyncio.to_thread(backoff)


def sync_worker():
    time.sleep(5)


class Poller:
    async def run(self):
        while True:
            time.sleep(self.interval)  # expect: py-time-sleep
            await asyncio.sleep(self.interval)

    def run_sync(self):
        time.sleep(1)


async def outer():
    async def inner():
        sleep(1)  # expect: py-time-sleep

    def not_async():
        sleep(1)

    await inner()


async def uses_a_parameter(sleep):
    # `sleep` here is the caller's function, not time.sleep.
    sleep(1)


async def shadowed_locally():
    sleep = asyncio.sleep
    await sleep(1)


async def comprehension(items):
    return [time.sleep(x) for x in items]  # expect: py-time-sleep


async def sorted_with_key(items):
    return sorted(items, key=lambda x: time.sleep(x))  # expect: py-time-sleep
