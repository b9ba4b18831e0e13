"""A minimal HTTP/1.1 webhook receiver for `bench_fanout`, run as its own process.

    python -m bench.webhook_receiver PORT OUT_FILE

Keep-alive, one path per subscriber. `/down/...` answers 503; everything else 204 and
is logged as (path, alert id, arrival time). On SIGTERM the log goes to OUT_FILE as
JSON. A raw asyncio server rather than uvicorn: the receiver must not be the
bottleneck of a benchmark of the sender.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time

OK = b"HTTP/1.1 204 No Content\r\n\r\n"
DOWN = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n"


async def main(port: int) -> list[tuple[str, str, float]]:
    log: list[tuple[str, str, float]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                path = lines[0].split(b" ")[1].decode()
                length, alert_id = 0, ""
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    lowered = name.strip().lower()
                    if lowered == b"content-length":
                        length = int(value)
                    elif lowered == b"x-siaga-alert-id":
                        alert_id = value.strip().decode()
                if length:
                    await reader.readexactly(length)
                if path.startswith("/down"):
                    writer.write(DOWN)
                else:
                    log.append((path, alert_id, time.time()))
                    writer.write(OK)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    server.close()
    return log


if __name__ == "__main__":
    received = asyncio.run(main(int(sys.argv[1])))
    with open(sys.argv[2], "w") as f:
        json.dump(received, f)
