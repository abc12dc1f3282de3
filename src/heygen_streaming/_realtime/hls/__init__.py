"""HLS playback of a realtime stream: playlists (`playlist`), fetching them and their
segments into a pipe (`fetch`), decoding or remuxing that pipe with PyAV (`media`)."""
