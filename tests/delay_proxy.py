"""A TCP proxy on loopback that delays every byte by a fixed time in each direction: a WAN round
trip for the IMAP copy's benchmark and tests, where the kernel has no netem qdisc (``tc qdisc add
dev lo root netem delay 20ms`` fails with "Specified qdisc kind is unknown" on this machine).

Data is forwarded in the order read, each chunk released ``delay`` seconds after it arrived, so a
request and its answer cost 2 x delay of waiting while pipelined traffic still streams (the
bandwidth is that of loopback, not one chunk per delay). TLS passes through untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator


class DelayProxy:
    def __init__(
        self,
        upstream_port: int,
        delay: float,
        host: str = "127.0.0.1",
        drop_after: int | None = None,
    ) -> None:
        self.upstream = (host, upstream_port)
        self.delay = delay
        # Cut the connection (both sides, no goodbye) once, when this many bytes have come from
        # the server: a dropped WAN link in the middle of a copy.
        self.drop_after = drop_after
        self.dropped = 0
        self._from_server = 0
        self.host = host
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="delay-proxy")
        self._server: asyncio.base_events.Server | None = None

    def start(self) -> DelayProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("delay proxy did not start")
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, self.host, 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        self._server.close()
        self._loop.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.close()
            return
        for w in (client_w, up_w):
            sock = w.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(
            self._pump(client_r, up_w), self._pump(up_r, client_w, (client_w, up_w))
        )

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        cut: tuple[asyncio.StreamWriter, ...] = (),
    ) -> None:
        loop = asyncio.get_running_loop()
        pending: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def release() -> None:
            while True:
                due, data = await pending.get()
                if not data:
                    break
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()

        sender = asyncio.ensure_future(release())
        try:
            while True:
                data = await reader.read(256 * 1024)
                if cut and self.drop_after is not None:
                    self._from_server += len(data)
                    if self._from_server > self.drop_after:
                        self.drop_after = None
                        self.dropped += 1
                        for w in cut:
                            w.transport.abort()
                        sender.cancel()
                        return
                await pending.put((loop.time() + self.delay, data))
                if not data:
                    break
            await sender
        except (OSError, asyncio.IncompleteReadError):
            sender.cancel()
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                if writer.can_write_eof():
                    writer.write_eof()
                else:
                    writer.close()


@contextlib.contextmanager
def delay_proxy(
    upstream_port: int, delay: float, drop_after: int | None = None
) -> Iterator[DelayProxy]:
    proxy = DelayProxy(upstream_port, delay, drop_after=drop_after).start()
    try:
        yield proxy
    finally:
        proxy.stop()
