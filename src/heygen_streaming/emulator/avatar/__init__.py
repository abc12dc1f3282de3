"""The one synthetic avatar every API of the emulator shows: video, speech and live tracks.

Modules: `renderer` (frames from a pose), `face` / `drawing` / `features` / `geometry` /
`canvas` (the drawing), `speech` (the speech API every emulated API uses: utterances, a
session's queue, off-line clips), `rendition` (a text rendered part by part), `engine`
(the one speech engine: eSpeak NG via `espeak`, or the `babble` fallback), `voices` (voice
ids to eSpeak voices), `mouth` (visemes and loudness), `text` (tokens and parts), `stamp`
(the optional frame stamp), `encoder` (the emulator's VP8 and H.264 encoders), `pcm` (raw
PCM the avatar plays, for LiveAvatar LITE) and `tracks` (`AvatarState` and the aiortc tracks
a WebRTC session sends). The offline rendering API is re-exported here (see `tracks`):
``from heygen_streaming.emulator.avatar import AvatarRenderer, synthesize``.
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
