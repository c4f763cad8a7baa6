"""The seed's async_timeout.py pattern as a benchmark peer, fixed to run the
tasks concurrently: each shell command under asyncio.wait_for, killed (its
whole process group) on timeout.

usage: asyncio_wait_for.py COMMANDS_FILE TIMEOUT_SECONDS
"""

import asyncio
import json
import os
import signal
import sys


async def run_one(command, timeout):
    process = await asyncio.create_subprocess_shell(
        command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL, start_new_session=True)
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=timeout)
        return {"cmd": command, "status": "ok" if process.returncode == 0 else "error"}
    except asyncio.TimeoutError:
        os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        return {"cmd": command, "status": "timeout"}


async def main(commands_file, timeout):
    with open(commands_file) as handle:
        commands = [line.strip() for line in handle if line.strip()]
    results = await asyncio.gather(*(run_one(command, timeout) for command in commands))
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
