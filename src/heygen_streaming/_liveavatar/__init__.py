"""LiveAvatar (``api.liveavatar.com``): `LiveAvatarClient`, FULL and LITE sessions over the
official ``livekit`` client.

Modules: `client` (the client), `api` (one method per endpoint), `envelope` (answers and
errors), `models`, `options` (session options, the token body), `state`, `events` (typed
server events), `session` (the public session) and `core` (its life), `connect` (token,
start, room, socket), `room` (the LiveKit room), `frames` (LiveKit frames as PyAV frames),
`media` (fan-outs, watchdog, recorders), `lite_socket` (the LITE control socket),
`lite_sender` (chunking and pacing), `audio_input` (any audio as PCM), `speech`
(``wait=True``), `preload` (start-up tuning). The public names are in
``heygen_streaming.liveavatar``.
"""
