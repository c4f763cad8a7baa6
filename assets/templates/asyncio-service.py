#!/usr/bin/env python3
"""An asyncio service skeleton (Python 3.11+, stdlib only): a line-based TCP
service with bounded concurrency, a timeout on every request, a health check,
and a graceful shutdown on SIGINT/SIGTERM (stop accepting, close idle
connections, let requests in flight finish within a grace period, exit 0).

Protocol, one request a line, one reply a line:

    HEALTH      -> OK in_flight=N
    WORK <ms>   -> DONE <ms> | TIMEOUT          (stands for your real work)
    anything    -> ERROR ...
    (too many connections: BUSY, then the connection closes)

Settings come from the environment, with these defaults: SERVICE_ADDR
(127.0.0.1:8080), SERVICE_CONCURRENCY (64 requests worked on at once),
SERVICE_MAX_CONNECTIONS (1024), SERVICE_REQUEST_TIMEOUT_MS (5000),
SERVICE_SHUTDOWN_GRACE_MS (10000). The first line on stdout is
"listening on HOST:PORT"; logs go to stderr. Unix only (add_signal_handler).

The tokio twin is tokio-service/src/main.rs; both are tested by
async-patterns' tests/references.rs. Replace handle() with your work.
"""

import asyncio
import os
import signal
import sys
from dataclasses import dataclass

MAX_LINE = 1024  # the longest request line: a client cannot make us buffer more


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def env_number(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number <= 0:
        raise SystemExit(f"service: {name}={text!r}: expected a whole number above 0")
    return number


@dataclass(frozen=True)
class Config:
    host: str
    port: int
    concurrency: int
    max_connections: int
    request_timeout: float
    shutdown_grace: float

    @staticmethod
    def from_env() -> "Config":
        host, _, port = os.environ.get("SERVICE_ADDR", "127.0.0.1:8080").rpartition(":")
        if not port.isdigit():
            raise SystemExit("service: SERVICE_ADDR must be HOST:PORT")
        return Config(
            host=host.strip("[]"),  # "[::1]:8080" -> "::1"
            port=int(port),
            concurrency=env_number("SERVICE_CONCURRENCY", 64),
            max_connections=env_number("SERVICE_MAX_CONNECTIONS", 1024),
            request_timeout=env_number("SERVICE_REQUEST_TIMEOUT_MS", 5000) / 1000,
            shutdown_grace=env_number("SERVICE_SHUTDOWN_GRACE_MS", 10_000) / 1000,
        )


async def handle(ms: int) -> str:
    """Your work goes here. It stands for I/O (a query, an HTTP call); a
    timeout cancels it with CancelledError at its current await."""
    await asyncio.sleep(ms / 1000)
    return f"DONE {ms}"


class Service:
    def __init__(self, config: Config):
        self.config = config
        self.work_slots = asyncio.Semaphore(config.concurrency)  # bounded concurrency
        self.in_flight = 0
        self.stopping = asyncio.Event()
        # Strong references to every connection task (the loop keeps only weak
        # ones), and which of them wait for a request, so shutdown can close them.
        self.connections: set[asyncio.Task] = set()
        self.idle: set[asyncio.Task] = set()

    def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """start_server's callback: one task per connection, kept in a set
        (the loop holds only weak references to tasks)."""
        if self.stopping.is_set() or len(self.connections) >= self.config.max_connections:
            # Shed load: saying BUSY now beats queueing without bound.
            writer.write(b"BUSY\n")
            writer.close()
            return
        task = asyncio.create_task(self.serve_connection(reader, writer))
        self.connections.add(task)
        task.add_done_callback(self.connections.discard)

    async def serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        task = asyncio.current_task()
        try:
            while not self.stopping.is_set():
                self.idle.add(task)
                try:
                    line = await reader.readline()
                except ValueError:  # longer than MAX_LINE (the StreamReader's limit)
                    writer.write(b"ERROR line too long\n")
                    break
                finally:
                    self.idle.discard(task)
                if not line:
                    break  # the client closed the connection
                reply = await self.respond(line.decode(errors="replace").strip())
                writer.write(f"{reply}\n".encode())
                await writer.drain()  # back-pressure: wait while the client reads slowly
        except ConnectionError as error:
            log(f"connection: {error}")
        finally:
            # Runs on cancellation too; CancelledError then goes on up, unswallowed.
            await close(writer)

    async def respond(self, request: str) -> str:
        match request.split():
            case ["HEALTH"]:
                return f"OK in_flight={self.in_flight}"
            case ["WORK", ms] if ms.isdigit():
                return await self.work(int(ms))
            case ["WORK", *_]:
                return "ERROR WORK takes a whole number of milliseconds"
            case _:
                return "ERROR unknown request (HEALTH, or WORK <ms>)"

    async def work(self, ms: int) -> str:
        """One request under the service's limits. The timeout covers the wait
        for a slot too: it is the caller's clock that matters."""
        try:
            async with asyncio.timeout(self.config.request_timeout):
                async with self.work_slots:
                    self.in_flight += 1
                    try:
                        return await handle(ms)
                    finally:
                        self.in_flight -= 1
        except TimeoutError:
            return "TIMEOUT"

    async def drain(self) -> None:
        """Closes idle connections now, waits for busy ones up to the grace
        period, then cancels what is left."""
        log(f"shutting down: draining {len(self.connections)} connection(s)")
        for task in list(self.idle):
            task.cancel()  # waiting for a request that will not be served
        if self.connections:
            _, late = await asyncio.wait(self.connections, timeout=self.config.shutdown_grace)
            if late:
                log(f"grace period over: dropping {len(late)} connection(s)")
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
        log("shutdown complete")


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await writer.wait_closed()
    except ConnectionError:
        pass


async def main() -> int:
    config = Config.from_env()
    service = Service(config)
    loop = asyncio.get_running_loop()
    # Install the handlers before announcing the address: a supervisor may send
    # SIGTERM the moment it sees us listening.
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, service.stopping.set)
    server = await asyncio.start_server(
        service.accept, config.host, config.port, limit=MAX_LINE
    )
    host, port = server.sockets[0].getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    await service.stopping.wait()
    server.close()  # new connections are refused from here on
    await service.drain()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
