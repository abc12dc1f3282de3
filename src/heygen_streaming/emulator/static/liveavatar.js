// Demo client of HeyGen LiveAvatar (FULL mode), written for the emulator: plain fetch for the
// REST calls and livekit-client (window.LivekitClient, vendored UMD build) for the room.
"use strict";

const $ = (id) => document.getElementById(id);
const la = (window.lademo = {
  sessionId: null,
  token: null,
  room: null,
  state: "idle",
  events: [],
  errors: [],
});
const { Room, RoomEvent } = window.LivekitClient;

function log(message) {
  $("log").textContent += `${new Date().toISOString().slice(11, 23)}  ${message}\n`;
  $("log").scrollTop = $("log").scrollHeight;
}

function fail(err) {
  la.errors.push(String(err));
  log(`error: ${err}`);
}

function setState(state) {
  la.state = state;
  $("state").textContent = state;
  const live = state === "connected";
  $("start").disabled = state !== "idle" && state !== "stopped";
  $("stop").disabled = state === "idle" || state === "stopped";
  for (const id of ["speak", "respond", "interrupt"]) $(id).disabled = !live;
}

const baseUrl = () => ($("server").value.trim() || window.location.origin).replace(/\/+$/, "");

async function api(path, { method = "POST", body, token } = {}) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  else headers["X-API-KEY"] = $("apiKey").value;
  const response = await fetch(`${baseUrl()}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const payload = await response.json();
  if (!response.ok || payload.code !== 1000) {
    const detail = payload.detail ? JSON.stringify(payload.detail) : payload.message;
    throw new Error(`HTTP ${response.status}: ${detail}`);
  }
  return payload.data;
}

async function loadAvatars() {
  try {
    const data = await api("/v1/avatars/public", { method: "GET" });
    $("avatar").innerHTML = "";
    for (const avatar of data.results) {
      const option = document.createElement("option");
      option.value = avatar.id;
      option.textContent = avatar.name;
      $("avatar").appendChild(option);
    }
  } catch (err) {
    log(`avatars: ${err} (enter the API key, then press Start)`);
  }
}

function onEvent(payload) {
  let event;
  try {
    event = JSON.parse(new TextDecoder().decode(payload));
  } catch (err) {
    return fail(`bad event: ${err}`);
  }
  la.events.push(event);
  const extra = event.text ? `: ${event.text}` : event.stop_reason ? `: ${event.stop_reason}` : "";
  log(`${event.event_type}${extra}`);
  if (event.event_type === "avatar.speak_started") $("talking").textContent = "talking";
  if (event.event_type === "avatar.speak_ended") $("talking").textContent = "silent";
}

async function start() {
  try {
    setState("starting");
    la.events = [];
    if (!$("avatar").value) await loadAvatars();
    const body = {
      avatar_id: $("avatar").value,
      mode: "FULL",
      avatar_persona: { language: "en" },
      video_settings: { quality: $("quality").value },
    };
    const created = await api("/v1/sessions/token", { body });
    la.sessionId = created.session_id;
    la.token = created.session_token;
    log(`session ${la.sessionId}`);
    const started = await api("/v1/sessions/start", { token: la.token });
    const room = (la.room = new Room());
    room.on(RoomEvent.TrackSubscribed, (track, _publication, participant) => {
      if (participant.identity !== "heygen") return;
      if (track.kind === "video") track.attach($("video"));
      else document.body.appendChild(track.attach());
      log(`${track.kind} from ${participant.identity}`);
    });
    room.on(RoomEvent.DataReceived, (payload, _participant, _kind, topic) => {
      if (topic === "agent-response") onEvent(payload);
    });
    room.on(RoomEvent.Disconnected, (reason) => {
      log(`room disconnected (${reason})`);
      setState("stopped");
    });
    await room.connect(started.livekit_url, started.livekit_client_token);
    setState("connected");
  } catch (err) {
    fail(err);
    setState("stopped");
  }
}

async function command(event_type, extra = {}) {
  const event_id = crypto.randomUUID ? crypto.randomUUID() : String(Date.now());
  const data = new TextEncoder().encode(JSON.stringify({ event_type, event_id, ...extra }));
  await la.room.localParticipant.publishData(data, { reliable: true, topic: "agent-control" });
  return event_id;
}

async function stop() {
  try {
    if (la.token) await api("/v1/sessions/stop", { token: la.token });
  } catch (err) {
    fail(err);
  }
  if (la.room) await la.room.disconnect();
  setState("stopped");
}

$("start").onclick = start;
$("stop").onclick = stop;
$("speak").onclick = () => command("avatar.speak_text", { text: $("text").value }).catch(fail);
$("respond").onclick = () => command("avatar.speak_response", { text: $("text").value }).catch(fail);
$("interrupt").onclick = () => command("avatar.interrupt").catch(fail);
$("apiKey").onchange = loadAvatars;
setState("idle");
loadAvatars();
