"""The TCP relay's receive buffer: one per process, shared by every connection.

Every read lands in it (`BufferedProtocol.get_buffer`), and what was read is written to
the other side as a slice of it. uvloop tries that write at once when the transport
has nothing queued; what it cannot send stays queued as the slice, still pointing into
the buffer. So after each write: if the transport holds anything, the buffer is left
to that write (freed once it is sent) and a new one is taken; otherwise every byte has
reached the kernel and the next read may overwrite it. With the default Protocol
path, uvloop copies each read into a new bytes object instead (an allocation and a
copy per read; docs/agent.md, "Zero-copy: what was measured").
"""

from __future__ import annotations

import asyncio

READ_SIZE = 256 << 10  # as large as uvloop's own read buffer


class ReadBuffer:
    __slots__ = ("view",)

    def __init__(self) -> None:
        self.view = memoryview(bytearray(READ_SIZE))

    def get_buffer(self, _sizehint: int) -> memoryview:
        return self.view

    def forward(self, n: int, transport: asyncio.Transport) -> None:
        """Write the `n` bytes just read to `transport`."""
        transport.write(self.view[:n])
        if transport.get_write_buffer_size():
            self.view = memoryview(bytearray(READ_SIZE))


READ = ReadBuffer()
