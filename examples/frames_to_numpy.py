"""Turn avatar frames into NumPy arrays: save a PNG snapshot and print audio levels.

python examples/frames_to_numpy.py --png snapshot.png
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

import av
import numpy as np
from _setup import connect, parser


def save_png(frame: av.VideoFrame, path: str) -> None:
    """Encode one video frame as a PNG file with PyAV (no imaging library needed)."""
    rgb = frame.reformat(format="rgb24")
    with av.open(path, "w", format="image2") as container:
        stream = container.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = rgb.width, rgb.height, "rgb24"
        for packet in stream.encode(rgb):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def dbfs(samples: np.ndarray) -> float:
    """RMS level of int16 samples in dB relative to full scale."""
    rms = float(np.sqrt(np.mean(np.square(samples.astype(np.float64) / 32768.0))))
    return 20 * math.log10(max(rms, 1e-6))


async def levels(audio: AsyncIterator[av.AudioFrame], seconds: float) -> list[float]:
    """dBFS of each 100 ms window over the next ``seconds`` of audio (media time)."""
    result: list[float] = []
    window: list[np.ndarray] = []
    got = 0.0
    async for frame in audio:
        samples = frame.to_ndarray()  # s16 interleaved: shape (1, samples * channels)
        window.append(samples.reshape(-1))
        got += frame.samples / frame.sample_rate
        if sum(w.size for w in window) >= frame.sample_rate * len(frame.layout.channels) / 10:
            result.append(dbfs(np.concatenate(window)))
            window = []
        if got >= seconds:
            break
    return result


async def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--png", default="snapshot.png")
    p.add_argument("--text", default="Listen: this is how loud speech is compared to silence.")
    args = p.parse_args()

    async with connect(args) as client, client.session(args.avatar, quality=args.quality) as s:
        # Video: one frame -> an (height, width, 3) uint8 array, and a PNG file.
        video = s.video()
        frame = await anext(video)
        rgb = frame.to_ndarray(format="rgb24")
        print(f"video frame {rgb.shape[1]}x{rgb.shape[0]} {rgb.dtype}, mean {rgb.mean():.1f}")
        save_png(frame, args.png)
        print(f"wrote {args.png}")
        await video.aclose()  # unsubscribe: nobody reads video any more

        # Audio: the level while idle, then while speaking.
        audio = s.audio()
        idle = await levels(audio, 0.5)
        await s.speak(args.text)
        speech = await levels(audio, 1.5)
        print(f"idle audio level {max(idle):.1f} dBFS")
        print(f"speech audio level {max(speech):.1f} dBFS")


if __name__ == "__main__":
    asyncio.run(main())
