"""HTTP from coroutines: sync clients versus async ones."""
import asyncio
import urllib.request
from urllib.request import urlopen

import aiohttp
import httpx
import requests as r
from requests import Session


async def fetch_all(urls):
    for url in urls:
        r.get(url, timeout=5)  # expect: py-requests
    r.post("https://api.example.com", json={})  # expect: py-requests
    urllib.request.urlopen("https://example.com")  # expect: py-urllib
    urlopen("https://example.com")  # expect: py-urllib
    httpx.get("https://example.com")  # expect: py-httpx-sync


async def with_session(url):
    session = Session()
    session.get(url)  # expect: py-requests
    with r.Session() as s:
        s.post(url)  # expect: py-requests
    r.Session().get(url)  # expect: py-requests


async def the_right_way(urls):
    async with aiohttp.ClientSession() as session:
        async with session.get(urls[0]) as response:
            await response.json()
        tasks = [session.get(url) for url in urls]
    async with httpx.AsyncClient() as client:
        await client.get(urls[0])
        response = await client.post(urls[0])
        response.json()
    await asyncio.to_thread(r.get, urls[0])


async def sync_client_in_thread(url):
    def call():
        with httpx.Client() as client:
            return client.get(url)

    return await asyncio.to_thread(call)


async def httpx_client(url):
    client = httpx.Client()
    client.get(url)  # expect: py-httpx-sync


def plain_script():
    return r.get("https://example.com").json()
