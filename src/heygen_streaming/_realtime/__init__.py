"""HeyGen Avatar Realtime (``/v3/avatar-realtime``): streams played over HLS.

The endpoints (`api`, `envelope`, `models`), the `RealtimeSession` (`session`, `state`,
`poll`, `words`, `media`) and HLS playback (`hls`). It imports `_http`, `_media`,
`_sessions` and `_errors`, never another API package.
"""
