// Demo client of the HeyGen Streaming API v1 flow, written for the emulator.
"use strict";

const $ = (id) => document.getElementById(id);
const demo = (window.demo = {
  sessionId: null,
  pc: null,
  tasks: [],
  errors: [],
  messages: [], // data-channel messages from the server (parsed JSON)
});

function log(message) {
  const line = `${new Date().toISOString().slice(11, 23)}  ${message}\n`;
  $("log").textContent += line;
  $("log").scrollTop = $("log").scrollHeight;
}

function setState(state) {
  $("state").textContent = state;
  const live = demo.sessionId !== null;
  $("start").disabled = live;
  $("stop").disabled = !live;
  $("speak").disabled = !live;
  $("interrupt").disabled = !live;
}

function setTalking(text) {
  $("talking").textContent = text;
}

function onServerMessage(event) {
  // HeyGen's server sent binary frames of UTF-8 JSON (so does the emulator).
  const text = typeof event.data === "string" ? event.data : new TextDecoder().decode(event.data);
  let message;
  try {
    message = JSON.parse(text);
  } catch (err) {
    log(`message: ${text}`);
    return;
  }
  demo.messages.push(message);
  if (message.type === "avatar_start_talking") {
    setTalking("talking…");
    log(`talking… (task ${message.task_id})`);
  } else if (message.type === "avatar_stop_talking") {
    setTalking("silent");
    log(`stopped talking (task ${message.task_id}, ${message.duration_ms} ms)`);
  } else {
    log(`message: ${text}`);
  }
}

function baseUrl() {
  return ($("server").value.trim() || window.location.origin).replace(/\/+$/, "");
}

async function api(name, body) {
  const response = await fetch(`${baseUrl()}/v1/streaming.${name}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Api-Key": $("apiKey").value },
    body: JSON.stringify(body || {}),
  });
  let payload;
  try {
    payload = await response.json();
  } catch (err) {
    throw new Error(`streaming.${name}: HTTP ${response.status}, not JSON`);
  }
  if (!response.ok || payload.code !== 100) {
    throw new Error(`streaming.${name}: HTTP ${response.status}, code ${payload.code}: ${payload.message}`);
  }
  return payload.data;
}

async function start() {
  setState("creating");
  const data = await api("new", {
    quality: $("quality").value,
    avatar_name: $("avatar").value,
    voice: { voice_id: $("voice").value },
  });
  demo.sessionId = data.session_id;
  log(`session ${data.session_id} (limit ${data.session_duration_limit} s)`);
  const pc = new RTCPeerConnection({ iceServers: data.ice_servers2 || data.ice_servers || [] });
  demo.pc = pc;
  const sessionId = data.session_id;
  const trickled = [];
  pc.onicecandidate = (event) => {
    if (!event.candidate) return;
    // Candidates may be posted before streaming.start: the server buffers them.
    trickled.push(
      api("ice", { session_id: sessionId, candidate: event.candidate.toJSON() }).catch((err) =>
        log(`ice: ${err.message}`),
      ),
    );
  };
  pc.ontrack = (event) => {
    log(`track: ${event.track.kind}`);
    if (event.streams && event.streams[0]) $("video").srcObject = event.streams[0];
  };
  // The server opens a data channel for its talking events.
  pc.ondatachannel = (event) => {
    log(`data channel: ${event.channel.label}`);
    event.channel.binaryType = "arraybuffer";
    event.channel.onmessage = onServerMessage;
  };
  pc.onconnectionstatechange = () => {
    log(`connection: ${pc.connectionState}`);
    setState(pc.connectionState);
  };
  await pc.setRemoteDescription(data.sdp);
  await pc.setLocalDescription(await pc.createAnswer());
  setState("starting");
  await api("start", { session_id: sessionId, sdp: pc.localDescription });
  log("started");
  await Promise.all(trickled);
}

async function speak() {
  const data = await api("task", {
    session_id: demo.sessionId,
    text: $("text").value,
    task_type: $("taskType").value,
  });
  demo.tasks.push(data);
  log(`task ${data.task_id}: ${Math.round(data.duration_ms)} ms`);
}

async function interrupt() {
  await api("interrupt", { session_id: demo.sessionId });
  log("interrupted");
}

async function stop() {
  const sessionId = demo.sessionId;
  demo.sessionId = null;
  if (demo.pc) demo.pc.close();
  demo.pc = null;
  $("video").srcObject = null;
  setState("closed");
  setTalking("silent");
  if (sessionId) {
    await api("stop", { session_id: sessionId });
    log(`stopped ${sessionId}`);
  }
}

function guarded(action) {
  return () =>
    action().catch((err) => {
      demo.errors.push(err.message);
      log(`error: ${err.message}`);
      if (demo.sessionId === null) setState("idle");
    });
}

$("start").addEventListener("click", guarded(start));
$("stop").addEventListener("click", guarded(stop));
$("speak").addEventListener("click", guarded(speak));
$("interrupt").addEventListener("click", guarded(interrupt));
window.addEventListener("beforeunload", () => {
  if (demo.sessionId) stop();
});
setState("idle");
