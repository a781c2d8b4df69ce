"""Connects once with asyncio's Happy Eyeballs (happy_eyeballs_delay=0.25, interleave=1, as RFC 8305
recommends) and prints "ms=12.3 peer=127.0.0.2", or "failed=Type"."""
import asyncio
import sys
import time


async def main(host, port):
    start = time.monotonic()
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, int(port), happy_eyeballs_delay=0.25, interleave=1), 10)
    except Exception as e:  # noqa: BLE001 - the bench reports any failure by name
        print("failed=%s" % type(e).__name__)
        return
    took = (time.monotonic() - start) * 1000
    print("ms=%.1f peer=%s" % (took, writer.get_extra_info("peername")[0]))
    writer.close()


asyncio.run(main(sys.argv[1], sys.argv[2]))
