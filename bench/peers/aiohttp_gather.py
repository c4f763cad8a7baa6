"""The seed's async_requests.py pattern as a benchmark peer: aiohttp + gather,
bounded by a Semaphore (the seed's Pattern 2), one shared ClientSession.

usage: aiohttp_gather.py URLS_FILE CONCURRENCY OUTPUT_JSON
Reads one URL per line, GETs them all, writes a JSON list of results.
"""

import asyncio
import json
import sys
import time

import aiohttp


async def fetch_one(session, semaphore, url):
    async with semaphore:
        started = time.perf_counter()
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=30)) as resp:
                body = await resp.read()
                try:
                    data = json.loads(body)
                except ValueError:
                    data = body.decode("utf-8", "replace")
                return {"url": url, "status": "ok", "http_status": resp.status, "data": data,
                        "elapsed_ms": int((time.perf_counter() - started) * 1000)}
        except Exception as error:  # the seed's catch-all
            return {"url": url, "status": "error", "message": str(error)}


async def main(urls_file, concurrency, output):
    with open(urls_file) as handle:
        urls = [line.strip() for line in handle if line.strip()]
    semaphore = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        results = await asyncio.gather(*(fetch_one(session, semaphore, url) for url in urls))
    with open(output, "w") as handle:
        json.dump(results, handle)
    failed = sum(1 for result in results if result["status"] != "ok")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
