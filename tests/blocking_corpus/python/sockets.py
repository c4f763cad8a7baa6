"""Sockets and DNS inside coroutines."""
import asyncio
import socket


async def raw_client(host, port):
    address = socket.gethostbyname(host)  # expect: py-socket
    sock = socket.create_connection((address, port))  # expect: py-socket
    sock.sendall(b"ping")  # expect: py-socket
    sock.recv(1024)  # expect: py-socket


async def nonblocking_client(host, port):
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    await loop.sock_connect(sock, (host, port))
    await loop.sock_sendall(sock, b"ping")
    await loop.sock_recv(sock, 1024)
    infos = await loop.getaddrinfo(host, port)
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"ping")
    await writer.drain()
    data = await reader.read(100)
    return infos, data


async def websocket_clients(url):
    import websocket
    import websockets

    sync_ws = websocket.create_connection(url)  # expect: py-socket
    async with websockets.connect(url) as async_ws:
        await async_ws.send("hi")
    return sync_ws
