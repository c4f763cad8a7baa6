"""The seed's async_file_reader.py pattern as a benchmark peer (with its bug
fixed: it counts newlines, not the letter n): aiofiles + gather, whole files
read into memory, as the seed does.

usage: aiofiles_gather.py FILE...   (or a single @LISTFILE with one path per line)
"""

import asyncio
import json
import os
import sys

import aiofiles


async def read_file(path):
    try:
        async with aiofiles.open(path, encoding="utf-8", errors="replace") as handle:
            content = await handle.read()
        return {"file": os.path.basename(path), "chars": len(content),
                "lines": content.count("\n"), "status": "ok"}
    except Exception as error:
        return {"file": path, "status": "error", "message": str(error)}


async def main(paths):
    results = await asyncio.gather(*(read_file(path) for path in paths))
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) == 1 and args[0].startswith("@"):
        with open(args[0][1:]) as listing:
            args = [line.strip() for line in listing if line.strip()]
    asyncio.run(main(args))
