#!/usr/bin/env python3
"""An asyncio service skeleton (Python 3.11+, stdlib only): a line-based TCP
service with bounded concurrency, a timeout on every request, an idle timeout
on every connection, a health check, and a graceful shutdown on SIGINT/SIGTERM
(report draining, optionally keep accepting for a delay, stop accepting, close
idle connections, let requests in flight finish within a grace period, exit 0).
A second SIGINT/SIGTERM exits at once (130/143).

Protocol, one request a line, one reply a line:

    HEALTH      -> OK in_flight=N | DRAINING in_flight=N (after the first signal)
    WORK <ms>   -> DONE <ms> | TIMEOUT          (stands for your real work)
    anything    -> ERROR ...
    (too many connections: BUSY, then the connection closes)

Settings come from the environment, with these defaults: SERVICE_ADDR
(127.0.0.1:8080), SERVICE_CONCURRENCY (64 requests worked on at once),
SERVICE_MAX_CONNECTIONS (1024), SERVICE_REQUEST_TIMEOUT_MS (5000),
SERVICE_IDLE_TIMEOUT_MS (30000: a connection that sends no complete request, or
takes no reply, for that long is closed), SERVICE_DRAIN_DELAY_MS (0: how long
to keep accepting after the first signal, while HEALTH says DRAINING, so a
load balancer stops routing here before the listener closes),
SERVICE_SHUTDOWN_GRACE_MS (10000). The first line on stdout is
"listening on HOST:PORT"; logs go to stderr. Unix only (add_signal_handler).

The tokio twin is tokio-service/src/main.rs; both are tested by
async-patterns' tests/templates.rs. Replace handle() with your work.
"""

import asyncio
import os
import signal
import sys
from dataclasses import dataclass

MAX_LINE = 1024  # the longest request line: a client cannot make us buffer more


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def env_number(name: str, default: int, minimum: int = 1) -> int:
    text = os.environ.get(name)
    if text is None:
        return default
    number = int(text) if text.isascii() and text.strip().isdecimal() else -1
    if number < minimum:
        raise SystemExit(f"service: {name}={text!r}: expected a whole number, at least {minimum}")
    return number


@dataclass(frozen=True)
class Config:
    host: str
    port: int
    concurrency: int
    max_connections: int
    request_timeout: float
    idle_timeout: float
    drain_delay: float
    shutdown_grace: float

    @staticmethod
    def from_env() -> "Config":
        host, _, port = os.environ.get("SERVICE_ADDR", "127.0.0.1:8080").rpartition(":")
        if not (port.isascii() and port.isdecimal()):  # isdigit() takes "²"
            raise SystemExit("service: SERVICE_ADDR must be HOST:PORT")
        return Config(
            host=host.strip("[]"),  # "[::1]:8080" -> "::1"
            port=int(port),
            concurrency=env_number("SERVICE_CONCURRENCY", 64),
            max_connections=env_number("SERVICE_MAX_CONNECTIONS", 1024),
            request_timeout=env_number("SERVICE_REQUEST_TIMEOUT_MS", 5000) / 1000,
            idle_timeout=env_number("SERVICE_IDLE_TIMEOUT_MS", 30_000) / 1000,
            drain_delay=env_number("SERVICE_DRAIN_DELAY_MS", 0, minimum=0) / 1000,
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
        self.draining = False  # after the first signal: HEALTH says DRAINING
        self.closing = False  # once the listener is closed: connections end
        # Strong references to every connection task (the loop keeps only weak
        # ones) with its writer, and which of them wait for a request, so
        # shutdown can close them.
        self.connections: dict[asyncio.Task, asyncio.StreamWriter] = {}
        self.idle: set[asyncio.Task] = set()

    def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """start_server's callback: one task per connection, kept in a dict
        (the loop holds only weak references to tasks)."""
        if self.closing or len(self.connections) >= self.config.max_connections:
            # Shed load: saying BUSY now beats queueing without bound.
            writer.write(b"BUSY\n")
            writer.close()
            return
        task = asyncio.create_task(self.serve_connection(reader, writer))
        self.connections[task] = writer
        task.add_done_callback(self.connections.pop)

    async def serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        task = asyncio.current_task()
        idle_timeout = self.config.idle_timeout
        try:
            while not self.closing:
                self.idle.add(task)
                try:
                    # The whole line within the idle timeout: a silent client, or
                    # one sending a byte now and then, does not keep its slot.
                    async with asyncio.timeout(idle_timeout):
                        line = await reader.readline()
                except TimeoutError:
                    break
                except ValueError:  # longer than MAX_LINE (the StreamReader's limit)
                    writer.write(b"ERROR line too long\n")
                    break
                finally:
                    self.idle.discard(task)
                if not line:
                    break  # the client closed the connection
                reply = await self.respond(line.decode(errors="replace").strip())
                writer.write(f"{reply}\n".encode())
                # Back-pressure: wait while the client reads slowly, but not
                # for ever for a client that has stopped reading.
                async with asyncio.timeout(idle_timeout):
                    await writer.drain()
                # Let the other connections (and signal handlers) run between
                # two requests: neither readline() with a line buffered nor
                # drain() below the high-water mark yields, so a client that
                # pipelines cheap requests would hold the loop meanwhile.
                await asyncio.sleep(0)
        except TimeoutError:
            log("connection: no reply taken within the idle timeout")
            writer.transport.abort()
        except ConnectionError as error:
            log(f"connection: {error}")
        finally:
            # Runs on cancellation too; CancelledError then goes on up, unswallowed.
            await close(writer, idle_timeout)

    async def respond(self, request: str) -> str:
        match request.split():
            case ["HEALTH"]:
                state = "DRAINING" if self.draining else "OK"
                return f"{state} in_flight={self.in_flight}"
            case ["WORK", ms] if ms.isascii() and ms.isdecimal():  # isdigit() takes "²"
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
        period, then drops what is left."""
        self.closing = True
        log(f"shutting down: draining {len(self.connections)} connection(s)")
        for task in list(self.idle):
            task.cancel()  # waiting for a request that will not be served
        if self.connections:
            _, late = await asyncio.wait(self.connections, timeout=self.config.shutdown_grace)
            if late:
                log(f"grace period over: dropping {len(late)} connection(s)")
                for task in late:
                    # Abort before cancelling: the task's close() would wait
                    # for unsent replies, for ever if the client never reads.
                    self.connections[task].transport.abort()
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
        log("shutdown complete")


async def close(writer: asyncio.StreamWriter, timeout: float) -> None:
    """Closes once the replies written so far are sent, or drops them after
    `timeout`: wait_closed() alone waits as long as the client does not read,
    which for a client that pipelines requests and never reads is for ever."""
    writer.close()
    try:
        async with asyncio.timeout(timeout):
            await writer.wait_closed()
    except TimeoutError:
        writer.transport.abort()
    except ConnectionError:
        pass


class Signals:
    """SIGINT and SIGTERM: the first starts the graceful shutdown, a second one
    exits at once. add_signal_handler replaces asyncio.run's own SIGINT
    handling (whose second Ctrl-C raises KeyboardInterrupt), so a handler that
    only sets an event would leave Ctrl-C doing nothing while we drain."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.received = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.on_signal, signum)

    def on_signal(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if self.received.is_set():
            log(f"{name} again: exiting now")
            os._exit(128 + signum)  # no cleanup: what a second Ctrl-C asks for
        log(f"{name}: shutting down (send it again to exit at once)")
        self.received.set()


async def main() -> int:
    config = Config.from_env()
    service = Service(config)
    # Install the handlers before announcing the address: a supervisor may send
    # SIGTERM the moment it sees us listening.
    signals = Signals(asyncio.get_running_loop())
    server = await asyncio.start_server(
        service.accept, config.host, config.port, limit=MAX_LINE
    )
    host, port = server.sockets[0].getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    await signals.received.wait()
    # Readiness first: HEALTH says DRAINING while we still accept, so a load
    # balancer that routes here for a few more seconds is not refused.
    service.draining = True
    if config.drain_delay:
        log(f"draining: still accepting for {config.drain_delay:g} s")
        await asyncio.sleep(config.drain_delay)
    server.close()  # new connections are refused from here on
    await service.drain()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
