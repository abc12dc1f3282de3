"""The one synthetic avatar every API of the emulator shows: video, speech and live tracks.

Modules: `renderer` (frames from a pose), `face` / `drawing` / `features` / `geometry` /
`canvas` (the drawing), `speech` (the voice and the mouth it drives), `stamp` (the optional
frame stamp), `encoder` (the emulator's VP8 and H.264 encoders), `pcm` (raw PCM the avatar
plays, for LiveAvatar LITE) and `tracks` (`AvatarState` and the aiortc tracks a WebRTC
session sends). The offline rendering API is re-exported here:
``from heygen_streaming.emulator.avatar import AvatarRenderer, synthesize`` (see `tracks`).
"""

from __future__ import annotations

from .tracks import (
    CLOSED,
    FPS,
    RESOLUTIONS,
    SAMPLE_RATE,
    AvatarAudioTrack,
    AvatarRenderer,
    AvatarState,
    AvatarVideoTrack,
    FaceLayers,
    MouthPose,
    MouthShape,
    Pose,
    SpeechClip,
    face_layers,
    frame_planes,
    idle_packets,
    synthesize,
)

__all__ = [
    "CLOSED",
    "FPS",
    "RESOLUTIONS",
    "SAMPLE_RATE",
    "AvatarAudioTrack",
    "AvatarRenderer",
    "AvatarState",
    "AvatarVideoTrack",
    "FaceLayers",
    "MouthPose",
    "MouthShape",
    "Pose",
    "SpeechClip",
    "face_layers",
    "frame_planes",
    "idle_packets",
    "synthesize",
]
