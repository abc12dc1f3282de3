"""The namespace harness itself: loops and processes land in the namespace they are given,
Chromium runs in one while Playwright stays outside, and namespaces never outlive a test."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aioice.ice import get_host_addresses

from netns import JsonLinesProcess, NetnsLoop, VethPair, chromium_in_netns, netns_pair

pytestmark = [pytest.mark.netns, pytest.mark.requires_tool("ip", package="iproute2")]

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def net() -> Iterator[VethPair]:
    with netns_pair() as pair:
        yield pair


def _namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def test_a_loop_and_its_executor_live_in_the_namespace(net: VethPair) -> None:
    async def addresses() -> tuple[list[str], list[str]]:
        loop = asyncio.get_running_loop()
        in_executor = await loop.run_in_executor(None, get_host_addresses, True, False)
        return get_host_addresses(True, False), in_executor

    with NetnsLoop(net.ns_a) as loop:
        assert loop.run(addresses()) == ([net.server_ip], [net.server_ip])
    assert net.server_ip not in get_host_addresses(True, False)  # the test's own thread


def test_a_json_lines_child_runs_in_the_namespace_and_takes_commands(net: VethPair) -> None:
    script = (
        "import json, sys\n"
        "from aioice.ice import get_host_addresses\n"
        "print('not json', flush=True)\n"
        "ips = get_host_addresses(True, False)\n"
        "print(json.dumps({'event': 'ready', 'ips': ips}), flush=True)\n"
        "for line in sys.stdin:\n"
        "    print(json.dumps({'event': 'echo', **json.loads(line)}), flush=True)\n"
        "    sys.stderr.write('said something\\n')\n"
    )
    with JsonLinesProcess([sys.executable, "-c", script], ns=net.ns_b) as child:
        child.send(cmd="first")
        child.send(cmd="second")
        assert child.expect("echo", 10, cmd="second")["cmd"] == "second"
        assert child.expect("ready", 10)["ips"] == [net.client_ip]  # kept for a later expect
        assert child.expect("echo", 10)["cmd"] == "first"
        assert child.noise == ["not json"]
        with pytest.raises(AssertionError, match=r"(?s)no 'never'.*said something"):
            child.expect("never", 0.2)


def test_namespaces_are_deleted_even_when_the_test_fails() -> None:
    with pytest.raises(RuntimeError), netns_pair() as pair:
        names = (pair.ns_a, pair.ns_b)
        assert all(name in _namespaces() for name in names)
        raise RuntimeError("the test failed")
    assert not any(name in _namespaces() for name in names)


@pytest.mark.browser
@pytest.mark.requires_tool("chromium", package="chromium")
@pytest.mark.timeout(60)
def test_chromium_in_one_namespace_reaches_a_server_in_the_other(
    net: VethPair, tmp_path: Path
) -> None:
    """Playwright (outside) drives Chromium (inside ``ns_b``) through the wrapper; the page
    comes from an aiohttp server inside ``ns_a``."""
    sync_api = pytest.importorskip("playwright.sync_api")

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello from ns_a")

    async def serve() -> web.AppRunner:
        app = web.Application()
        app.router.add_get("/", hello)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, net.server_ip, 0).start()
        return runner

    with NetnsLoop(net.ns_a) as loop:
        runner = loop.run(serve())
        port = runner.addresses[0][1]
        wrapper = chromium_in_netns(net.ns_b, tmp_path, chromium=CHROMIUM)
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(wrapper), args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                page = browser.new_page()
                page.goto(f"http://{net.server_ip}:{port}/", timeout=20_000)
                assert page.inner_text("body") == "hello from ns_a"
            finally:
                browser.close()
        loop.run(runner.cleanup())
