"""Spawning and waiting for processes, with os.spawn*, os.wait* and popen."""
import asyncio
import os
import subprocess
from subprocess import Popen


async def supervise(args):
    pid = os.spawnlp(os.P_NOWAIT, "sleep", "sleep", "1")  # expect: py-subprocess
    os.spawnv(os.P_WAIT, "/bin/true", ["true"])  # expect: py-subprocess
    os.posix_spawnp("true", ["true"], {})  # expect: py-subprocess
    os.waitpid(pid, 0)  # expect: py-os-wait
    os.waitpid(pid, os.WUNTRACED | os.WCONTINUED)  # expect: py-os-wait
    os.wait()  # expect: py-os-wait
    os.popen("uptime").read()  # expect: py-subprocess-spawn
    child = Popen(args)  # expect: py-subprocess-spawn
    child.communicate()  # expect: py-subprocess
    return child


async def look_alikes(pid, args, job):
    # Polls without waiting (also in a flag set, or by keyword).
    os.waitpid(pid, os.WNOHANG)
    os.waitpid(pid, os.WNOHANG | os.WUNTRACED)
    os.waitpid(pid, options=os.WNOHANG)
    # The async way.
    proc = await asyncio.create_subprocess_exec(*args)
    await proc.wait()
    # Handed to a thread.
    await asyncio.to_thread(subprocess.run, args)
    # A method of the same name on an unrelated object.
    job.wait()
    job.communicate()


def sync_runner(args):
    return subprocess.run(args, check=True)
