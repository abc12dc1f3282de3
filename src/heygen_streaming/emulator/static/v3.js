// Demo client of HeyGen Avatar Realtime (/v3/avatar-realtime), written for the emulator.
// HLS is played with Media Source Extensions (Chromium has no native HLS): the playlist's
// fMP4 init segment and media segments are appended to one SourceBuffer as they appear.
"use strict";

const $ = (id) => document.getElementById(id);
const v3 = (window.v3demo = {
  streamId: null,
  status: "idle",
  hlsUrl: null,
  segments: 0,
  words: [],
  end: null,
  errors: [],
  stopped: false,
});

function log(message) {
  $("log").textContent += `${new Date().toISOString().slice(11, 23)}  ${message}\n`;
  $("log").scrollTop = $("log").scrollHeight;
}

function fail(err) {
  v3.errors.push(String(err));
  log(`error: ${err}`);
}

function setStatus(status) {
  v3.status = status;
  $("status").textContent = status;
  const live = status === "pending" || status === "streaming";
  $("start").disabled = live;
  $("cancel").disabled = !live;
  const streaming = live && $("mode").value === "text_stream";
  $("append").disabled = !streaming;
  $("final").disabled = !streaming;
}

const baseUrl = () => ($("server").value.trim() || window.location.origin).replace(/\/+$/, "");
const headers = () => ({ "Content-Type": "application/json", "x-api-key": $("apiKey").value });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function api(method, path, body) {
  const response = await fetch(`${baseUrl()}/v3/avatar-realtime${path}`, {
    method,
    headers: headers(),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const payload = await response.json();
  if (!response.ok) {
    const error = payload.error || {};
    throw new Error(`HTTP ${response.status} ${error.code}: ${error.message}`);
  }
  return payload.data;
}

async function start() {
  v3.stopped = false;
  v3.words = [];
  v3.end = null;
  v3.segments = 0;
  $("words").textContent = "";
  const mode = $("mode").value;
  try {
    const data = await api("POST", "", {
      type: mode,
      avatar_id: $("avatar").value,
      voice_id: $("voice").value,
      text: $("text").value,
    });
    v3.streamId = data.stream_id;
    log(`created ${v3.streamId} (${mode})`);
    setStatus("pending");
    followWords(v3.streamId).catch(fail);
    await poll(v3.streamId);
  } catch (err) {
    fail(err);
    setStatus("idle");
  }
}

async function poll(streamId) {
  // Poll until hls_url is live, then keep polling (slower) to see the stream end.
  while (v3.streamId === streamId) {
    const data = await api("GET", `/${streamId}`);
    if (data.status !== v3.status) {
      log(`status ${data.status}${data.end_reason ? ` (${data.end_reason})` : ""}` +
          `${data.error_message ? `: ${data.error_message}` : ""}`);
    }
    setStatus(data.status);
    const url = data.hls_url || data.url; // the guide's variant says "url"
    if (url && !v3.hlsUrl) {
      v3.hlsUrl = url;
      play(url).catch(fail);
    }
    if (data.status === "completed" || data.status === "error") return;
    await sleep(v3.hlsUrl ? 1000 : 250);
  }
}

function codecOf(init) {
  // "avc1.PPCCLL" from the avcC box of the init segment, plus AAC-LC.
  for (let i = 0; i + 8 < init.length; i++) {
    if (init[i] === 0x61 && init[i + 1] === 0x76 && init[i + 2] === 0x63 && init[i + 3] === 0x43) {
      const hex = (b) => b.toString(16).padStart(2, "0");
      return `avc1.${hex(init[i + 5])}${hex(init[i + 6])}${hex(init[i + 7])},mp4a.40.2`;
    }
  }
  return "avc1.42c01f,mp4a.40.2";
}

function append(buffer, data) {
  return new Promise((resolve, reject) => {
    buffer.addEventListener("updateend", resolve, { once: true });
    buffer.addEventListener("error", reject, { once: true });
    buffer.appendBuffer(data);
  });
}

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status} for ${url}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function play(playlistUrl) {
  const video = $("video");
  const source = new MediaSource();
  video.src = URL.createObjectURL(source);
  await new Promise((resolve) => source.addEventListener("sourceopen", resolve, { once: true }));
  let buffer = null;
  let next = 0; // index of the next media segment to append
  while (!v3.stopped) {
    const response = await fetch(playlistUrl, { cache: "no-store" });
    if (!response.ok) break; // files removed after the stream ended
    const lines = (await response.text()).split("\n").map((line) => line.trim());
    if (!buffer) {
      const map = lines.find((line) => line.startsWith("#EXT-X-MAP:"));
      const init = await fetchBytes(new URL(map.match(/URI="([^"]+)"/)[1], playlistUrl));
      const mime = `video/mp4; codecs="${codecOf(init)}"`;
      log(`MSE ${mime}`);
      buffer = source.addSourceBuffer(mime);
      await append(buffer, init);
    }
    const segments = lines.filter((line) => line && !line.startsWith("#"));
    for (; next < segments.length; next++) {
      await append(buffer, await fetchBytes(new URL(segments[next], playlistUrl)));
      v3.segments = next + 1;
      if (next === 0) {
        video.currentTime = buffer.buffered.length ? buffer.buffered.start(0) : 0;
        video.play().catch(fail);
      }
    }
    if (lines.includes("#EXT-X-ENDLIST")) {
      if (source.readyState === "open") source.endOfStream();
      log(`playlist complete (${segments.length} segments)`);
      return;
    }
    await sleep(500);
  }
}

async function followWords(streamId) {
  // Server-sent events read with fetch (EventSource cannot send the x-api-key header).
  const response = await fetch(`${baseUrl()}/v3/avatar-realtime/${streamId}/words`, {
    headers: headers(),
  });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    pending += value;
    let cut;
    while ((cut = pending.indexOf("\n\n")) >= 0) {
      const frame = pending.slice(0, cut);
      pending = pending.slice(cut + 2);
      let event = "message";
      let data = "";
      for (const line of frame.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (!data) continue;
      const payload = JSON.parse(data);
      if (event === "end") {
        v3.end = payload;
        log(`words end: ${data}`);
        return;
      }
      for (const word of payload.words) {
        v3.words.push(word);
        const span = document.createElement("span");
        span.textContent = (/^\w/.test(word.word) ? " " : "") + word.word;
        span.title = `${word.start.toFixed(2)}–${word.end.toFixed(2)} s`;
        span.dataset.start = word.start;
        span.dataset.end = word.end;
        $("words").appendChild(span);
      }
    }
  }
}

function highlight() {
  // Highlight the word being spoken at the video's current time.
  const t = $("video").currentTime;
  for (const span of $("words").children) {
    span.classList.toggle("live", t >= span.dataset.start && t <= Number(span.dataset.end) + 0.05);
  }
}

async function cancel() {
  if (!v3.streamId) return;
  try {
    const data = await api("POST", `/${v3.streamId}/cancel`, {});
    log(`cancel: cancelled=${data.cancelled}`);
  } catch (err) {
    fail(err);
  }
}

async function appendText(final) {
  try {
    const data = await api("POST", `/${v3.streamId}/text`, {
      delta: final ? "" : $("delta").value,
      final,
    });
    log(`appended (${data.buffered_bytes} bytes buffered)${final ? ", final" : ""}`);
  } catch (err) {
    fail(err);
  }
}

$("start").addEventListener("click", () => {
  v3.hlsUrl = null;
  start();
});
$("cancel").addEventListener("click", cancel);
$("append").addEventListener("click", () => appendText(false));
$("final").addEventListener("click", () => appendText(true));
$("video").addEventListener("timeupdate", highlight);
$("video").addEventListener("error", () => fail(`video error ${$("video").error?.message}`));
