"""The TCP feed reader (deconflict.feeds.tcp) against a local server that drops the connection mid-line."""

from __future__ import annotations

import asyncio

from deconflict.feeds.sbs1 import LineFramer, Sbs1Decoder
from deconflict.feeds.tcp import read_tcp

VEL = "MSG,4,1,1,4CA2D6,1,2021/10/07,12:00:00.500,2021/10/07,12:00:00.510,,,452,87.2,,,-1280,,0,0,0,0"
POS = "MSG,3,1,1,4CA2D6,1,2021/10/07,12:00:01.250,2021/10/07,12:00:01.260,,36000,,,48.85341,2.34880,,,0,0,0,0"


def test_reconnects_after_a_drop_and_frames_lines_across_reads() -> None:
    async def scenario() -> tuple[dict[str, int], dict[str, int], dict[str, int], list[float]]:
        sessions = 0
        got_all = asyncio.Event()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal sessions
            sessions += 1
            if sessions == 1:  # half a line, then the connection drops
                writer.write((VEL + "\n" + POS[:40]).encode())
            else:
                writer.write((VEL + "\n").encode())
                await writer.drain()
                await asyncio.sleep(0.01)
                writer.write((POS + "\n").encode())
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        framer, decoder = LineFramer(), Sbs1Decoder()
        stop = asyncio.Event()
        slept: list[float] = []

        def on_bytes(data: bytes) -> None:
            decoder.feed_lines(framer.feed(data))
            if decoder.stats["reports"]:
                got_all.set()
                stop.set()

        async def fast_sleep(s: float) -> None:
            slept.append(s)
            await asyncio.sleep(0)

        task = asyncio.create_task(read_tcp("127.0.0.1", port, on_bytes, stop, sleep=fast_sleep,
                                            on_connect=framer.reset))
        await asyncio.wait_for(got_all.wait(), 10)
        stats = await asyncio.wait_for(task, 10)
        server.close()
        await server.wait_closed()
        return stats.as_dict(), decoder.stats.as_dict(), framer.stats.as_dict(), slept

    tcp, sbs, framing, slept = asyncio.run(scenario())
    assert tcp["connections"] == 2 and tcp["disconnected"] == 1
    # the line cut by the drop is dropped on reconnection, not glued to the next connection's first line
    assert framing == {"partial": 1}
    assert sbs == {"lines": 3, "reports": 1}
    assert slept == [0.5]


def test_connection_refused_is_counted_and_backs_off() -> None:
    async def scenario() -> tuple[dict[str, int], list[float]]:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()  # nothing listens there now
        stop = asyncio.Event()
        slept: list[float] = []

        async def sleep(s: float) -> None:
            slept.append(s)
            if len(slept) == 5:
                stop.set()

        stats = await asyncio.wait_for(read_tcp("127.0.0.1", port, lambda b: None, stop, sleep=sleep,
                                                max_backoff_s=4.0), 10)
        return stats.as_dict(), slept

    stats, slept = asyncio.run(scenario())
    assert stats == {"connect_failed": 5}
    assert slept == [0.5, 1.0, 2.0, 4.0, 4.0]
