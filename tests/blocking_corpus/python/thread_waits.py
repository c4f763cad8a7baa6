"""Waiting for threads and processes inside coroutines, and what does not wait."""
import asyncio
import concurrent.futures
import multiprocessing
import queue
import threading
from concurrent.futures import ThreadPoolExecutor


class Worker:
    def __init__(self):
        self.jobs = queue.Queue()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self):
        # A sync method run in the thread: its waits are its own.
        self.jobs.get()
        self.done.set()

    async def stop(self):
        self.jobs.put(None)
        self.done.wait()  # expect: py-thread-wait
        self.thread.join(timeout=5)  # expect: py-thread-wait
        self.jobs.get(block=False)
        self.jobs.get_nowait()


async def pool_results(items):
    with ThreadPoolExecutor() as executor:
        future = executor.submit(sum, items)
        future.result()  # expect: py-thread-wait
        for done in concurrent.futures.as_completed([future]):  # expect: py-thread-wait
            print(done)
        await asyncio.wrap_future(future)
        executor.shutdown()  # expect: py-thread-wait
        executor.shutdown(wait=False)


async def locks_and_pipes():
    lock = threading.Lock()
    lock.acquire()  # expect: py-thread-wait
    lock.acquire(blocking=False)
    lock.release()
    parent, child = multiprocessing.Pipe()
    child.send(1)
    parent.recv()  # expect: py-thread-wait
    results = multiprocessing.Queue()
    results.get(timeout=1)  # expect: py-thread-wait


async def asyncio_primitives(event: asyncio.Event, jobs: asyncio.Queue, task):
    # asyncio's own: awaited, and named alike.
    await event.wait()
    await jobs.get()
    await jobs.join()
    task.result()
    jobs.get_nowait()


async def unknown_receivers(thing, other):
    # Not known to be a thread or a queue: `join` and `get` mean anything.
    thing.join()
    other.get("key")
    ", ".join(["a", "b"])
