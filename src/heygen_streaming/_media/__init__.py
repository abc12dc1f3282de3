"""Media shared by every API: bounded frame streams, their ring buffer, recording to a file.

Imports only `heygen_streaming._errors` (and its own modules). Modules: `ring` (the bounded
drop-oldest queue), `streams` (`FrameStream`, the per-track fan-out), `recording` (the
`Recorder`), `writer` (its PyAV encoders and muxer, on a worker thread).
"""
