"""Userspace link between two network namespaces with delay and loss (netem stand-in).

Run as a script (root): creates TUN devices ``<dev>a`` / ``<dev>b``, moves them into the two
namespaces with 10.99.x.1 / 10.99.x.2, prints ``ready`` and forwards IP packets between
them, delaying each by ``--delay-ms`` and dropping ``--loss`` percent, until killed.
Only the two namespaces the caller created are involved.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import os
import random
import signal
import struct
import subprocess
import sys

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def _open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def _configure(dev: str, ns: str, addr: str) -> None:
    _ip("link", "set", dev, "netns", ns)
    _ip("-n", ns, "addr", "add", addr, "dev", dev)
    _ip("-n", ns, "link", "set", dev, "up")
    _ip("-n", ns, "link", "set", "lo", "up")


async def _relay(fd_a: int, fd_b: int, delay: float, loss: float, seed: int) -> None:
    loop = asyncio.get_running_loop()
    rng = random.Random(seed)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)

    def write(fd: int, packet: bytes) -> None:
        # Device gone or queue full: the packet is lost, as on a real link.
        with contextlib.suppress(OSError):
            os.write(fd, packet)

    def forward(src: int, dst: int) -> None:
        while True:
            try:
                packet = os.read(src, 65536)
            except BlockingIOError:
                return
            except OSError:
                stop.set()
                return
            if loss and rng.random() * 100.0 < loss:
                continue
            if delay:
                loop.call_later(delay, write, dst, packet)
            else:
                write(dst, packet)

    loop.add_reader(fd_a, forward, fd_a, fd_b)
    loop.add_reader(fd_b, forward, fd_b, fd_a)
    await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ns-a", required=True)
    parser.add_argument("--ns-b", required=True)
    parser.add_argument("--dev", required=True)
    parser.add_argument("--subnet", default="10.99.1")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--loss", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    fd_a = _open_tun(args.dev + "a")
    fd_b = _open_tun(args.dev + "b")
    _configure(args.dev + "a", args.ns_a, f"{args.subnet}.1/24")
    _configure(args.dev + "b", args.ns_b, f"{args.subnet}.2/24")
    print("ready", flush=True)
    asyncio.run(_relay(fd_a, fd_b, args.delay_ms / 1000.0, args.loss, args.seed))
    sys.exit(0)


if __name__ == "__main__":
    main()
