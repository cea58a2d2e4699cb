"""Raw Mode S framings: Beast binary (dump1090 port 30005) and hex frames with timestamps.

Beast: each frame is 0x1a, a type byte ('1' Mode A/C, 2 bytes; '2' Mode S short, 7 bytes; '3' Mode S long,
14 bytes), a 6-byte big-endian MLAT counter (12 MHz), a signal-level byte, then the payload; any 0x1a among the
bytes after the type byte is sent twice. `BeastFramer.feed` takes bytes as they arrive (a frame may be split
across reads) and returns the complete frames; broken frames are counted, and it resynchronises on the next 0x1a.

Hex frames, one per line (`parse_hex_line`): a JSON object with "timestamp" (epoch s) and "frame" (hex), as in
../shared/data/adsb/full_flight_short.jsonl; "<epoch s> <hex>"; or dump1090's AVR forms "*<hex>;" (no time) and
"@<12 hex digits of MLAT counter><hex>;".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .reports import FeedStats

__all__ = ["BEAST_CLOCK_HZ", "BeastFrame", "BeastFramer", "beast_encode", "parse_hex_line"]

BEAST_CLOCK_HZ = 12_000_000.0  #: the MLAT counter's rate
_ESC = 0x1A
_PAYLOAD = {0x31: 2, 0x32: 7, 0x33: 14}  # '1', '2', '3'


@dataclass(frozen=True, slots=True)
class BeastFrame:
    kind: str  #: "1" Mode A/C, "2" Mode S short, "3" Mode S long
    mlat_ticks: int  #: 12 MHz counter of the receiver
    signal: int  #: 0-255
    payload: bytes

    def time_s(self, epoch_s: float = 0.0) -> float:
        """The counter as seconds after `epoch_s` (the counter's zero, which the stream does not carry)."""
        return epoch_s + self.mlat_ticks / BEAST_CLOCK_HZ


@dataclass(slots=True)
class BeastFramer:
    """Bytes in (any split), frames out. `stats` counts "frames", "mode_ac", "garbage" (bytes outside a frame),
    "bad_type" (a type byte other than '1', '2', '3'; status frames '4' included) and "truncated" (a frame
    cut short by the start of the next)."""

    stats: FeedStats = field(default_factory=FeedStats)
    _buf: bytearray = field(default_factory=bytearray)

    def reset(self) -> None:
        """Forget a partial frame (the connection it came on is gone), counting it as "partial"."""
        if self._buf:
            self.stats.count("partial")
        self._buf.clear()

    def feed(self, data: bytes) -> list[BeastFrame]:
        buf = self._buf
        buf += data
        out: list[BeastFrame] = []
        i, n = 0, len(buf)
        while i < n:
            if buf[i] != _ESC:
                j = buf.find(_ESC, i)
                j = n if j < 0 else j
                self.stats.count("garbage", j - i)
                i = j
                continue
            if i + 1 >= n:
                break  # wait for the type byte
            kind = buf[i + 1]
            if kind == _ESC:  # an escaped data byte outside a frame
                self.stats.count("garbage", 2)
                i += 2
                continue
            size = _PAYLOAD.get(kind)
            if size is None:
                self.stats.count("bad_type")
                i += 1
                continue
            need = 7 + size
            body = bytearray()
            j = i + 2
            cut = False
            while len(body) < need and j < n:
                b = buf[j]
                if b == _ESC:
                    if j + 1 >= n:
                        break
                    if buf[j + 1] != _ESC:
                        cut = True
                        break
                    j += 1
                body.append(b)
                j += 1
            if cut:
                self.stats.count("truncated")
                i = j
                continue
            if len(body) < need:
                break  # the rest has not arrived yet
            i = j
            frame = BeastFrame(chr(kind), int.from_bytes(body[:6], "big"), body[6], bytes(body[7:]))
            self.stats.count("frames")
            if frame.kind == "1":
                self.stats.count("mode_ac")
            out.append(frame)
        del buf[:i]
        return out


def beast_encode(frame: BeastFrame) -> bytes:
    """One frame as Beast bytes, 0x1a doubled (the inverse of `BeastFramer.feed`; for tests and replays)."""
    body = frame.mlat_ticks.to_bytes(6, "big") + bytes([frame.signal]) + frame.payload
    return bytes([_ESC, ord(frame.kind)]) + body.replace(b"\x1a", b"\x1a\x1a")


_HEX = re.compile(r"[0-9a-fA-F]{14}(?:[0-9a-fA-F]{14})?")


def parse_hex_line(line: str, mlat_epoch_s: float = 0.0) -> tuple[float | None, bytes] | str:
    """One line of hex frames: (time in epoch seconds or None, frame bytes), or the reason it was refused:
    "blank", "json" (unparseable JSON or missing fields), "hex" (not 14 or 28 hex digits), "format"."""
    s = line.strip()
    if not s:
        return "blank"
    t: float | None = None
    if s[0] == "{":
        try:
            obj = json.loads(s)
            t, h = float(obj["timestamp"]), str(obj["frame"])
        except (ValueError, KeyError, TypeError):
            return "json"
    elif s[0] in "*@" and s[-1] == ";":
        h = s[1:-1]
        if s[0] == "@":
            try:
                t = mlat_epoch_s + int(h[:12], 16) / BEAST_CLOCK_HZ
            except ValueError:
                return "hex"
            h = h[12:]
    else:
        parts = s.split()
        if len(parts) != 2:
            return "format"
        try:
            t = float(parts[0])
        except ValueError:
            return "format"
        h = parts[1]
    if not _HEX.fullmatch(h):
        return "hex"
    return t, bytes.fromhex(h)
