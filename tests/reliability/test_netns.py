"""Impaired network: emulator and client in separate namespaces, with loss and delay.

The kernel here may lack ``sch_netem``: loss then falls back to an nftables
``numgen random`` drop rule on the input hook, and delay uses a userspace TUN relay.
All traffic stays between the two namespaces the test creates.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from heygen_streaming.emulator.process import EmulatorProcess

from ._netns import TunLink, VethPair, unavailable_reason

pytestmark = [
    pytest.mark.slow,
    pytest.mark.netns,
    pytest.mark.requires_tool("ip", package="iproute2"),
    pytest.mark.requires_tool("nft", package="nftables"),
]

KEY = "netns-test-key"
CLIENT = Path(__file__).with_name("_netns_client.py")
SECONDS = 6.0

_REASON = unavailable_reason()


@pytest.fixture
def link(request: pytest.FixtureRequest) -> Iterator[VethPair | TunLink]:
    if _REASON is not None:
        pytest.skip(f"impaired-network tests skipped: {_REASON}")
    delay_ms, loss = request.param
    net: VethPair | TunLink
    if not delay_ms:
        net = VethPair()
        try:
            net.add_loss(loss)
        except BaseException:
            net.close()
            raise
    else:  # no netem here: delay (and loss with it) comes from the userspace relay
        net = TunLink(delay_ms=delay_ms, loss=loss)
    try:
        yield net
    finally:
        net.close()


def _run_client(net: VethPair | TunLink, feedback: bool) -> dict[str, Any]:
    extra = ("--rtcp-feedback",) if feedback else ()
    prefix = tuple(net.exec_args(net.ns_a))
    with EmulatorProcess(
        KEY, host=net.server_ip, prefix=prefix, extra_args=extra, stamp=True
    ) as emu:
        proc = subprocess.run(
            [*net.exec_args(net.ns_b), sys.executable, str(CLIENT), emu.base_url, KEY,
             str(SECONDS)],
            capture_output=True, text=True, timeout=90, check=False,
        )  # fmt: skip
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        assert lines, f"client printed no result (rc={proc.returncode}): {proc.stderr[-3000:]}"
        result: dict[str, Any] = json.loads(lines[-1])
        assert emu.proc is not None and emu.proc.poll() is None, "emulator died"
    return result


@pytest.mark.timeout(150)
@pytest.mark.parametrize("feedback", [False, True], ids=["no-feedback", "nack-pli"])
@pytest.mark.parametrize(
    "link",
    [(0, 5), (0, 10), (100, 0), (100, 5)],
    indirect=True,
    ids=["loss5", "loss10", "delay100", "delay100+loss5"],
)
def test_media_survives_impaired_link(
    link: VethPair | TunLink,
    feedback: bool,
    record_property: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Video recovers after loss with either setting: without RTCP feedback (HeyGen's
    offers had none) through periodic key frames, with it through NACK/PLI. Lost frames
    are allowed; long freezes are not."""
    result = _run_client(link, feedback)
    record_property("impairment", link.impairment)
    record_property("feedback", feedback)
    record_property("result", result)
    with capsys.disabled():
        print(
            f"\n[{link.impairment}, feedback={feedback}] video frames "
            f"{result['video_frames']}, delivery {result.get('delivery', 0):.1%}, "
            f"max gap {result.get('max_video_gap_s')}, "
            f"voiced audio frames {result.get('voiced_frames')}"
        )
    assert result["error"] is None
    # Video keeps flowing: frames throughout the window, no stall near the watchdog time.
    assert result["video_frames"] >= 2 * SECONDS
    # Recovery: the longest freeze stays under the forced key-frame interval (2 s) plus
    # slack, whether loss is repaired by retransmission (NACK) or by the next key frame.
    assert result["max_video_gap_s"] is not None and result["max_video_gap_s"] < 3.0
    assert result.get("delivery", 0) > 0.3
    # Speech still arrives.
    assert result["voiced_frames"] >= 5
