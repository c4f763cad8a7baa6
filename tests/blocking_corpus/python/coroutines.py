"""Loops inside loops, coroutines never awaited, input()."""
import asyncio


async def refresh():
    await asyncio.sleep(1)


async def handler(request):
    asyncio.run(refresh())  # expect: py-asyncio-run-in-coroutine
    loop = asyncio.new_event_loop()
    loop.run_until_complete(refresh())  # expect: py-asyncio-run-in-coroutine
    answer = input("continue? ")  # expect: py-input
    asyncio.sleep(1)  # expect: py-coroutine-not-awaited
    refresh()  # expect: py-coroutine-not-awaited
    asyncio.gather(refresh(), refresh())  # expect: py-coroutine-not-awaited
    return answer


async def done_right():
    await refresh()
    task = asyncio.create_task(refresh())
    asyncio.create_task(refresh())
    asyncio.ensure_future(refresh())
    pending = refresh()
    await pending
    await asyncio.gather(refresh(), refresh())
    await asyncio.wait_for(refresh(), timeout=1)
    return task


def main():
    asyncio.run(refresh())
    answer = input("name? ")
    return answer


class Service:
    async def start(self):
        self.connect()  # expect: py-coroutine-not-awaited
        self.log("started")
        await self.connect()

    async def connect(self):
        await asyncio.sleep(0)

    def log(self, text):
        print(text)


def decorated(fn):
    return fn


@decorated
async def wrapped():
    await asyncio.sleep(0)


async def calls_wrapped():
    # A decorator may return anything: not known to be a coroutine.
    wrapped()
