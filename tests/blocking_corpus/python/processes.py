"""Child processes from coroutines."""
import asyncio
import os
import subprocess
from subprocess import check_output


async def deploy(service):
    subprocess.run(["systemctl", "restart", service], check=True)  # expect: py-subprocess
    check_output(["git", "rev-parse", "HEAD"])  # expect: py-subprocess
    os.system("sync")  # expect: py-subprocess
    proc = subprocess.Popen(["tail", "-f", "log"])  # expect: py-subprocess-spawn
    proc.wait()  # expect: py-subprocess
    out, err = subprocess.Popen(["ls"]).communicate()  # expect: py-subprocess, py-subprocess-spawn


async def deploy_async(service):
    proc = await asyncio.create_subprocess_exec("systemctl", "restart", service)
    await proc.wait()
    out, err = await proc.communicate()
    shell = await asyncio.create_subprocess_shell("sync")
    await shell.wait()
    os.getpid()
    return out, err


async def in_a_thread(args):
    return await asyncio.to_thread(subprocess.run, args, check=True)
