"""A TCP proxy on 127.0.0.1 that a test controls: which backend new connections go to, and how
the service behind it fails (connections refused, or accepted and never answered).

Used to take PostgreSQL or Redis away from a running app without touching the machine's
services, and to put two app processes behind one entry point.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from typing import Literal

Mode = Literal["forward", "refuse", "blackhole"]


class LoopbackProxy:
    def __init__(self, *targets: tuple[str, int]) -> None:
        assert targets and all(host in ("127.0.0.1", "localhost", "::1") for host, _ in targets)
        self.targets = list(targets)
        self.target_index = 0
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.mode: Mode = "forward"
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def url_for(self, template: str) -> str:
        return template.format(port=self.port)

    # ---- control, from the test's thread ----

    def start(self) -> LoopbackProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def set_mode(self, mode: Mode) -> None:
        """refuse: close the listener and drop open connections (like a stopped server);
        blackhole: accept and swallow (like a hung server or a dropped route); forward: normal."""
        self._call(self._set_mode(mode))

    def route_to(self, index: int) -> None:
        """New connections go to targets[index]; open ones stay where they are."""
        self.target_index = index

    def drop_connections(self) -> None:
        self._call(self._drop())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def _call(self, coro) -> None:  # noqa: ANN001
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    # ---- the proxy itself, on its own event loop ----

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)

    async def _set_mode(self, mode: Mode) -> None:
        self.mode = mode
        if mode == "refuse":
            if self._server is not None:
                self._server.close()
                self._server = None
            await self._drop()
        else:
            if mode == "blackhole":
                await self._drop()
            await self._listen()

    async def _shutdown(self) -> None:
        await self._set_mode("refuse")
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _drop(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        if self.mode == "blackhole":
            with contextlib.suppress(Exception):
                while await reader.read(65536):
                    pass
            return
        host, port = self.targets[self.target_index]
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(up_writer)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.discard(writer)
        self._writers.discard(up_writer)
