"""HeyGen Streaming API v1 (retired by HeyGen in 2026, served by the emulator): raw WebRTC.

The endpoints (`api`), their bodies and answers (`options`, `enums`, `models`, `created`,
`envelope`), and the `Session` over aiortc (`session` facade, `core`, `connect`, `rtc`,
`hub`, `events`, `channel`, `state`, `speech`, `stop`, `stats`). It imports `_http`,
`_media`, `_sessions` and `_errors`, never another API package.
"""
