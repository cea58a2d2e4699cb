"""A TCP feed reader with reconnection: the bytes of dump1090's ports (30003 SBS-1, 30005 Beast) handed to a
framer as they arrive. Connection failures and drops are counted and retried with exponential back-off; the
caller stops it by setting an `asyncio.Event`. The sleep is injected (tests pass a fast one)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from .reports import FeedStats

__all__ = ["read_tcp"]


async def read_tcp(host: str, port: int, on_bytes: Callable[[bytes], None], stop: asyncio.Event, *,
                   stats: FeedStats | None = None, chunk: int = 65536, min_backoff_s: float = 0.5,
                   max_backoff_s: float = 30.0,
                   sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                   on_connect: Callable[[], None] | None = None) -> FeedStats:
    """Read from host:port until `stop` is set, calling `on_bytes` with each chunk; reconnect after a refusal or
    a drop (counted as "connect_failed" / "disconnected"; "connections" counts successes, "bytes" the data).
    `on_connect` runs on each new connection: pass the framer's `reset`, so that a line or frame cut by a drop
    is not glued to the first bytes of the next connection."""
    stats = stats if stats is not None else FeedStats()
    backoff = min_backoff_s
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            stats.count("connect_failed")
        else:
            stats.count("connections")
            if on_connect is not None:
                on_connect()
            backoff = min_backoff_s
            try:
                while not stop.is_set():
                    read = asyncio.ensure_future(reader.read(chunk))
                    stopped = asyncio.ensure_future(stop.wait())
                    done, _ = await asyncio.wait({read, stopped}, return_when=asyncio.FIRST_COMPLETED)
                    if read not in done:
                        read.cancel()
                        break
                    stopped.cancel()
                    data = read.result()
                    if not data:
                        stats.count("disconnected")
                        break
                    stats.count("bytes", len(data))
                    on_bytes(data)
            except OSError:
                stats.count("disconnected")
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
        if stop.is_set():
            break
        await sleep(backoff)
        backoff = min(backoff * 2.0, max_backoff_s)
    return stats
