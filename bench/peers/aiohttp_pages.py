"""The seed's paginated fetch (the `fetch_pages` async generator) as a
benchmark peer: aiohttp, one ClientSession, a Semaphore over the chains, each
chain following `Link: <..>; rel="next"` one page after another.

usage: aiohttp_pages.py URLS_FILE CONCURRENCY OUTPUT_JSON
Reads one first-page URL per line, follows every chain, writes a JSON list of
results: one per page, with the chain's index and the page's number.
"""

import asyncio
import json
import sys
import time

import aiohttp


async def fetch_pages(session, url):
    """Yields each page's JSON body, following rel="next" links."""
    while url:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=30)) as resp:
            resp.raise_for_status()
            yield await resp.json()
            next_link = resp.links.get("next")
            url = str(next_link["url"]) if next_link else None


async def fetch_chain(session, semaphore, index, url):
    async with semaphore:
        started = time.perf_counter()
        results = []
        try:
            page = 0
            async for body in fetch_pages(session, url):
                results.append({"index": index, "page": page, "status": "ok", "json": body,
                                "elapsed_ms": int((time.perf_counter() - started) * 1000)})
                page += 1
        except Exception as error:  # the seed's catch-all
            results.append({"index": index, "status": "error", "message": str(error)})
        return results


async def main(urls_file, concurrency, output):
    with open(urls_file) as handle:
        urls = [line.strip() for line in handle if line.strip()]
    semaphore = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        chains = await asyncio.gather(*(fetch_chain(session, semaphore, index, url)
                                        for index, url in enumerate(urls)))
    results = [page for chain in chains for page in chain]
    with open(output, "w") as handle:
        json.dump(results, handle)
    failed = sum(1 for result in results if result["status"] != "ok")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
