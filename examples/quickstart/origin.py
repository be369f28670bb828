"""A tiny TCP origin for the quickstart: answers every line with a greeting.

    python origin.py 127.0.0.1 18081
"""

from __future__ import annotations

import asyncio
import sys


async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    client = writer.get_extra_info("peername")
    while line := await reader.readline():
        text = line.decode(errors="replace").strip()
        writer.write(f"hello from the origin, you said {text!r} (seen from {client[0]})\n".encode())
        await writer.drain()
    writer.close()


async def main(host: str, port: int) -> None:
    server = await asyncio.start_server(greet, host, port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
