"""HTTP plumbing shared by every API: the one send path, its retry policy, TLS, decoding, SSE.

Imports only `heygen_streaming._errors` (and its own modules); it knows no API, no client
and no CLI. Modules: `transport` (`Transport`: the send path and its one retry loop),
`retry` (`RetryPolicy`), `trace` (when a request is on the wire), `tls` (the deferred TLS
context), `decode` (status, JSON and error bodies, model parsing), `sse` (the event-stream
parser).
"""
