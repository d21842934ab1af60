// Natter call view. Plain JS on purpose (no build step yet). Talks to the Rust shell only through
// `window.__TAURI__.core` (withGlobalTauri): `start_call` with a Channel that carries
//  - binary frame messages (layout: src-tauri/src/frame_wire.rs), drawn with putImageData;
//  - JSON messages {type:"status", tileId, label, state, detail} and {type:"ended"}.
// Drawn frames are acknowledged with `frames_drawn` (the shell's flow control).
"use strict";

const MAGIC = 0x3146544e; // "NTF1" read as a little-endian u32
const STATE_TEXT = { connecting: "connecting…", connected: "connected", failed: "failed", left: "left" };

const els = {
  grid: document.getElementById("grid"),
  room: document.getElementById("room-name"),
  summary: document.getElementById("call-summary"),
  leave: document.getElementById("leave"),
  error: document.getElementById("error"),
  left: document.getElementById("left"),
  leftTitle: document.getElementById("left-title"),
  leftDetail: document.getElementById("left-detail"),
  rejoin: document.getElementById("rejoin"),
  template: document.getElementById("tile-template"),
};

const tiles = new Map(); // tileId -> { root, canvas, ctx, name, badge, state }
let inCall = false;
let drawn = 0;
let session = 0; // ignores messages from a channel of an earlier call

function showError(message) {
  els.error.textContent = message;
  els.error.hidden = false;
}

function clearError() {
  els.error.hidden = true;
  els.error.textContent = "";
}

function describeError(e) {
  if (e && typeof e === "object" && "message" in e) return e.code ? `${e.message} (${e.code})` : String(e.message);
  return String(e);
}

function tile(tileId, label) {
  let t = tiles.get(tileId);
  if (!t) {
    const root = els.template.content.firstElementChild.cloneNode(true);
    const canvas = root.querySelector("canvas");
    t = {
      root,
      canvas,
      ctx: canvas.getContext("2d"),
      name: root.querySelector(".name"),
      badge: root.querySelector(".badge"),
      state: null,
    };
    const isLocal = tileId === "local";
    root.classList.toggle("local", isLocal);
    root.dataset.tile = tileId;
    // The self view comes first; remote tiles in order of arrival.
    if (isLocal) els.grid.prepend(root);
    else els.grid.append(root);
    tiles.set(tileId, t);
  }
  if (label !== undefined) t.name.textContent = tileId === "local" ? "You" : label;
  return t;
}

function setStatus(t, state, detail) {
  t.state = state;
  if (t.root.classList.contains("local")) return; // no badge on the self view
  t.badge.hidden = false;
  t.badge.className = `badge ${state}`;
  t.badge.textContent = STATE_TEXT[state] ?? state;
  t.badge.title = detail || "";
  t.root.title = detail || "";
  updateSummary();
}

function updateSummary() {
  const remotes = [...tiles.entries()].filter(([id]) => id !== "local").map(([, t]) => t);
  const connected = remotes.filter((t) => t.state === "connected").length;
  const failed = remotes.filter((t) => t.state === "failed").length;
  let text = `${connected} of ${remotes.length} connected`;
  if (failed) text += ` · ${failed} failed`;
  els.summary.textContent = remotes.length ? text : "waiting for others…";
}

function drawFrame(buffer) {
  if (buffer.byteLength < 20) return;
  const view = new DataView(buffer);
  if (view.getUint32(0, true) !== MAGIC) return;
  const width = view.getUint32(4, true);
  const height = view.getUint32(8, true);
  const idLen = view.getUint16(16, true);
  const labelLen = view.getUint16(18, true);
  const text = new TextDecoder();
  const tileId = text.decode(new Uint8Array(buffer, 20, idLen));
  const label = text.decode(new Uint8Array(buffer, 20 + idLen, labelLen));
  const offset = Math.ceil((20 + idLen + labelLen) / 4) * 4;
  const size = width * height * 4;
  if (!width || !height || offset + size > buffer.byteLength) return;

  const t = tile(tileId, label);
  if (t.canvas.width !== width || t.canvas.height !== height) {
    t.canvas.width = width;
    t.canvas.height = height;
  }
  t.ctx.putImageData(new ImageData(new Uint8ClampedArray(buffer, offset, size), width, height), 0, 0);
  t.root.classList.add("has-video");
}

function onMessage(mySession, message) {
  if (mySession !== session) return;
  if (message instanceof ArrayBuffer) {
    try {
      drawFrame(message);
    } finally {
      drawn += 1;
    }
    return;
  }
  if (message instanceof Uint8Array || Array.isArray(message)) {
    drawn += 1;
    drawFrame(new Uint8Array(message).buffer);
    return;
  }
  switch (message && message.type) {
    case "status": {
      const t = tile(message.tileId, message.label);
      if (message.state === "left" && message.tileId !== "local") {
        t.root.remove();
        tiles.delete(message.tileId);
        updateSummary();
      } else {
        setStatus(t, message.state, message.detail);
        if (message.state === "failed" && message.detail) showError(`${t.name.textContent}: ${message.detail}`);
      }
      break;
    }
    case "ended":
      if (inCall) endView("The call ended", "The call engine stopped.");
      break;
    case "error":
      showError(describeError(message));
      break;
    default:
      console.warn("natter: unknown message", message);
  }
}

// Acknowledge drawn frames in batches, so the shell keeps sending.
setInterval(() => {
  if (drawn === 0 || !window.__TAURI__) return;
  const count = drawn;
  drawn = 0;
  window.__TAURI__.core.invoke("frames_drawn", { count }).catch(() => {});
}, 50);

function endView(title, detail) {
  inCall = false;
  session += 1;
  els.leave.disabled = true;
  for (const t of tiles.values()) t.root.remove();
  tiles.clear();
  els.summary.textContent = "";
  els.leftTitle.textContent = title;
  els.leftDetail.textContent = detail || "";
  els.left.hidden = false;
}

async function startCall() {
  const tauri = window.__TAURI__;
  if (!tauri || !tauri.core) {
    showError("This page must run inside the Natter app (the Tauri API is not available).");
    return;
  }
  clearError();
  els.left.hidden = true;
  els.rejoin.disabled = true;
  const mySession = ++session;
  els.summary.textContent = "joining…";
  const channel = new tauri.core.Channel();
  channel.onmessage = (message) => onMessage(mySession, message);
  try {
    const info = await tauri.core.invoke("start_call", { onEvent: channel });
    if (mySession !== session) return;
    els.room.textContent = info.room;
    inCall = true;
    els.leave.disabled = false;
    updateSummary();
    tile("local", "You");
  } catch (e) {
    showError(`Could not start the call: ${describeError(e)}`);
    endView("Not in a call", "The call could not start (see above).");
  } finally {
    els.rejoin.disabled = false;
  }
}

els.leave.addEventListener("click", async () => {
  els.leave.disabled = true;
  endView("You left the call", "");
  try {
    await window.__TAURI__.core.invoke("leave_call");
  } catch (e) {
    showError(`Leaving failed: ${describeError(e)}`);
  }
});

els.rejoin.addEventListener("click", () => startCall());

startCall();
