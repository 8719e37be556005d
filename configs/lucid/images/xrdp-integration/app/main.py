"""lucid-xrdp-integration: the RDP endpoint that clients connect to.

Accepts RDP connections on SERVICE_PORT and logs each one.
"""
import asyncio
import logging
import os
import signal

SERVICE_PORT = int(os.environ.get("SERVICE_PORT", "3389"))
log = logging.getLogger("lucid-xrdp-integration")


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    log.info("RDP connection from %s", writer.get_extra_info("peername"))
    writer.close()
    await writer.wait_closed()


async def main() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await asyncio.start_server(handle, "0.0.0.0", SERVICE_PORT)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"))
    asyncio.run(main())
