"""Network namespaces for the impaired-network tests.

Two topologies, both between namespaces this module creates (nothing leaves them):

* :class:`VethPair`: ``<ns>a`` (10.99.0.1) and ``<ns>b`` (10.99.0.2) joined by a veth pair.
  Loss uses ``tc netem`` when the kernel has it, else an nftables rule
  ``numgen random mod 100 < N drop`` on the input hook of both namespaces.
* :class:`TunLink`: the same two namespaces joined by a userspace relay over two TUN devices
  (``_tunrelay.py``), which adds a fixed one-way delay (and optional loss). This stands in
  for ``netem delay`` on kernels without ``sch_netem``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

RELAY = Path(__file__).with_name("_tunrelay.py")


def unavailable_reason() -> str | None:
    """Why namespaces cannot be used here, or ``None`` when they can."""
    if sys.platform != "linux":
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed"
    name = f"hgprobe{uuid.uuid4().hex[:6]}"
    probe = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot create a network namespace: {probe.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


class _Namespaces:
    """Create ``<tag>a`` and ``<tag>b``; :meth:`close` deletes them (idempotent)."""

    def __init__(self) -> None:
        tag = f"hg{uuid.uuid4().hex[:6]}"
        self.ns_a = tag + "a"
        self.ns_b = tag + "b"
        self.tag = tag
        self.impairment = "none"
        _run("ip", "netns", "add", self.ns_a)
        try:
            _run("ip", "netns", "add", self.ns_b)
        except subprocess.CalledProcessError:
            _run("ip", "netns", "del", self.ns_a, check=False)
            raise

    def exec_args(self, ns: str) -> list[str]:
        """Command prefix running a program inside namespace ``ns``."""
        return ["ip", "netns", "exec", ns]

    def close(self) -> None:
        for ns in (self.ns_a, self.ns_b):
            _run("ip", "netns", "del", ns, check=False)


class VethPair(_Namespaces):
    """Namespaces joined by a veth pair: server 10.99.0.1 in ``ns_a``, client 10.99.0.2."""

    server_ip = "10.99.0.1"
    client_ip = "10.99.0.2"

    def __init__(self) -> None:
        super().__init__()
        a, b = self.tag + "va", self.tag + "vb"
        self._veth = a
        try:
            _run("ip", "link", "add", a, "type", "veth", "peer", "name", b)
            _run("ip", "link", "set", a, "netns", self.ns_a)
            _run("ip", "link", "set", b, "netns", self.ns_b)
            for ns, dev, addr in ((self.ns_a, a, self.server_ip), (self.ns_b, b, self.client_ip)):
                _run("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
                _run("ip", "-n", ns, "link", "set", dev, "up")
                _run("ip", "-n", ns, "link", "set", "lo", "up")
            self.devs = {self.ns_a: a, self.ns_b: b}
        except BaseException:
            self.close()
            raise

    def add_loss(self, percent: int) -> str:
        """Drop ``percent`` % of packets in each direction; returns the mechanism used."""
        netem_ok = True
        for ns, dev in self.devs.items():
            res = _run(
                "ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root",
                "netem", "loss", f"{percent}%", check=False,
            )  # fmt: skip
            netem_ok = netem_ok and res.returncode == 0
        if netem_ok:
            self.impairment = f"netem loss {percent}%"
            return "netem"
        for ns in self.devs:
            _run("ip", "netns", "exec", ns, "nft", "add", "table", "inet", "hgloss")
            _run(
                "ip", "netns", "exec", ns, "nft", "add", "chain", "inet", "hgloss", "input",
                "{ type filter hook input priority 0; policy accept; }",
            )  # fmt: skip
            _run(
                "ip", "netns", "exec", ns, "nft", "add", "rule", "inet", "hgloss", "input",
                "numgen", "random", "mod", "100", "<", str(percent), "drop",
            )  # fmt: skip
        self.impairment = f"nftables input drop {percent}% (netem unavailable)"
        return "nftables"

    def close(self) -> None:
        super().close()  # deleting a namespace deletes the veth end inside it
        _run("ip", "link", "del", self._veth, check=False)  # still here if setup broke early


class TunLink(_Namespaces):
    """Namespaces joined by a delaying userspace relay: server 10.99.1.1, client 10.99.1.2."""

    server_ip = "10.99.1.1"
    client_ip = "10.99.1.2"

    def __init__(self, *, delay_ms: float, loss: float = 0.0) -> None:
        super().__init__()
        self._relay: subprocess.Popen[str] | None = None
        try:
            self._relay = subprocess.Popen(
                [
                    sys.executable, str(RELAY), "--ns-a", self.ns_a, "--ns-b", self.ns_b,
                    "--dev", self.tag + "t", "--subnet", "10.99.1",
                    "--delay-ms", str(delay_ms), "--loss", str(loss),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            assert self._relay.stdout is not None
            line = self._relay.stdout.readline()
            if line.strip() != "ready":
                err = self._relay.stderr.read() if self._relay.stderr else ""
                raise RuntimeError(f"TUN relay failed to start: {line!r} {err[-500:]}")
            self.impairment = f"userspace TUN relay: {delay_ms:g} ms one-way delay, {loss:g}% loss"
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._relay is not None and self._relay.poll() is None:
            self._relay.terminate()
            try:
                self._relay.wait(5)
            except subprocess.TimeoutExpired:
                self._relay.kill()
                self._relay.wait(5)
        super().close()
