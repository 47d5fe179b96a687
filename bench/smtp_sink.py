#!/usr/bin/env python3
"""A minimal SMTP sink for benchmarks (bench/webhooks/run.sh RECEIPTS=on).

Listens on 127.0.0.1, accepts every mail transaction (EHLO/HELO, MAIL FROM, RCPT TO, DATA, RSET,
NOOP, QUIT; no STARTTLS, no AUTH), counts messages and their bytes, and throws them away, so it
costs little CPU on the machine it shares with the server under test. The message text is not
parsed: DATA ends at the first CRLF.CRLF, found with bytes.find over the received chunks.

Usage: smtp_sink.py [PORT]      (0 or nothing: an ephemeral port)
Prints "PORT <n>" on stdout once listening. On SIGTERM or SIGINT prints one JSON line
{"messages": M, "bytes": B, "connections": C, "first_at": T0, "last_at": T1} (unix seconds,
floats; null when no message arrived) and exits 0.
Standard library only (asyncio).
"""
import asyncio
import json
import signal
import sys
import time

STATS = {"messages": 0, "bytes": 0, "connections": 0, "first_at": None, "last_at": None}
MAX_LINE = 4096
MAX_MESSAGE = 50 * 1024 * 1024


class Sink(asyncio.Protocol):
    def connection_made(self, transport):
        STATS["connections"] += 1
        self.t = transport
        self.buf = bytearray()
        self.in_data = False
        self.scan = 0  # where to resume looking for the end of DATA
        transport.write(b"220 bench-sink ESMTP\r\n")

    def data_received(self, chunk):
        self.buf += chunk
        while True:
            if self.in_data:
                # The terminator is CRLF.CRLF; the CRLF before the dot may be the one that ended
                # the DATA command, so an empty message is ".\r\n" at the start.
                if self.buf[:3] == b".\r\n":
                    end, skip = 0, 3
                else:
                    i = self.buf.find(b"\r\n.\r\n", max(self.scan - 4, 0))
                    if i < 0:
                        self.scan = len(self.buf)
                        if len(self.buf) > MAX_MESSAGE:
                            self.t.write(b"552 message too large\r\n")
                            self.t.close()
                        return
                    end, skip = i + 2, i + 5
                now = time.time()
                STATS["messages"] += 1
                STATS["bytes"] += end
                if STATS["first_at"] is None:
                    STATS["first_at"] = now
                STATS["last_at"] = now
                del self.buf[:skip]
                self.in_data = False
                self.scan = 0
                self.t.write(b"250 2.0.0 queued\r\n")
                continue
            i = self.buf.find(b"\r\n")
            if i < 0:
                if len(self.buf) > MAX_LINE:
                    self.t.write(b"500 line too long\r\n")
                    self.t.close()
                return
            line = bytes(self.buf[:i])
            del self.buf[: i + 2]
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.t.write(b"250-bench-sink\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n")
            elif verb in (b"HELO", b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                self.t.write(b"250 OK\r\n")
            elif verb == b"DATA":
                self.in_data = True
                self.scan = 0
                self.t.write(b"354 end with <CRLF>.<CRLF>\r\n")
            elif verb == b"QUIT":
                self.t.write(b"221 bye\r\n")
                self.t.close()
                return
            else:
                self.t.write(b"502 not implemented\r\n")


async def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Sink, "127.0.0.1", port, backlog=128)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    print(json.dumps(STATS), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
