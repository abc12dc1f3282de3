"""Network namespaces for tests that run libwebrtc (the ``livekit`` Python client, Chromium).

libwebrtc ignores the loopback interface, so such a test puts server and client in network
namespaces it creates: a veth pair joins ``ns_a`` (10.99.0.1, the server) and ``ns_b``
(10.99.0.2, the client). Nothing leaves them, and the namespaces are deleted when the test
ends, failed or not. Tests using this need root and iproute2; mark them::

    pytestmark = [pytest.mark.netns, pytest.mark.requires_tool("ip", package="iproute2")]

The pieces (each usable alone):

* `netns_pair()` — a context manager yielding a `VethPair` (``ns_a``/``ns_b``,
  ``server_ip``/``client_ip``, ``exec_args(ns)`` = ``ip netns exec NS``); skips the test
  with the reason when namespaces are unavailable (a failure under ``HEYGEN_REQUIRE_ALL``).
* `NetnsLoop(ns)` — an asyncio loop in a thread that entered ``ns`` (``setns`` is per
  thread): anything it creates — an in-process ``Emulator(host=net.server_ip)``, an aiohttp
  site, aiortc peers, httpx calls — lives in the namespace, while the test (sync or async)
  drives it with ``loop.run(coro)`` / ``await loop.arun(coro)``. Objects created there must
  be used there (go through ``run``/``arun``/``call``).
* `JsonLinesProcess(args, ns=...)` — a child process inside a namespace (``ip netns exec``)
  that prints one JSON object per line (``{"event": ...}``) and reads JSON commands on
  stdin; ``expect("event", timeout, **fields)`` waits for one, failing with the child's
  stderr tail. E.g. the emulator CLI itself: ``EmulatorProcess(key, host=net.server_ip,
  prefix=tuple(net.exec_args(net.ns_a)))`` (``heygen_streaming.emulator.process``), and a
  client script with ``JsonLinesProcess([sys.executable, "client.py", url], ns=net.ns_b)``.
* `chromium_in_netns(ns, directory)` — Chromium in a namespace, Playwright outside: a
  wrapper script ``exec ip netns exec NS /usr/bin/chromium "$@"`` to pass as Playwright's
  ``executable_path`` (Playwright talks to Chromium over a pipe, which the wrapper keeps)::

      wrapper = chromium_in_netns(net.ns_b, tmp_path)
      browser = await p.chromium.launch(executable_path=str(wrapper), args=[...])
      page = await browser.new_page()
      await page.goto(f"http://{net.server_ip}:{port}/")  # served from ns_a

  Chromium hides its host candidates behind ``*.local`` mDNS names by default; aioice
  cannot resolve them here (the namespaces have no multicast route), and ICE still
  connects through the peer-reflexive candidate Chromium's checks reveal. Pass
  ``--disable-features=WebRtcHideLocalIpsWithMdns`` to get plain host candidates instead.
"""

from __future__ import annotations

from reliability._netns import VethPair, unavailable_reason

from .chromium import chromium_in_netns
from .loop import NetnsLoop, enter_netns
from .pair import netns_pair
from .process import JsonLinesProcess

__all__ = [
    "JsonLinesProcess",
    "NetnsLoop",
    "VethPair",
    "chromium_in_netns",
    "enter_netns",
    "netns_pair",
    "unavailable_reason",
]
