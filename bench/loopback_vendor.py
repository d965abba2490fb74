"""A loopback HTTP server that answers like Baidu at once, for client benchmarks.

Token requests get a token with ``brain_all_scope``; every other request gets the same
seed-shaped ``body_attr`` answer. Keep-alive HTTP/1.1 on asyncio, no framework, so that
the clients, not the server, are what a benchmark measures.

Run: ``python bench/loopback_vendor.py PORT``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANSWER = (ROOT / "tests/backends/data/baidu/body_attr.json").read_bytes()
TOKEN = json.dumps(
    {
        "access_token": "24.bench-token",
        "expires_in": 2592000,
        "refresh_token": "25.bench-refresh",
        "scope": "public brain_all_scope brain_body_analysis",
        "session_key": "bench",
        "session_secret": "bench",
    }
).encode()


def _response(body: bytes) -> bytes:
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


TOKEN_RESPONSE = _response(TOKEN)
ANSWER_RESPONSE = _response(ANSWER)


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            token = b"/oauth/2.0/token" in head.split(b"\r\n", 1)[0]
            writer.write(TOKEN_RESPONSE if token else ANSWER_RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
