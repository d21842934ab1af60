// The call view's flows against a stand-in backend that answers as App::start_call does: a join
// refused before the hand-over leaves the running call shown and says why in the dialog; the new
// call's messages wait until it started; who came and went is announced; the microphone and
// camera state comes from the backend. The real window: tests/it/ui_flows.rs.
import { beforeEach, describe, expect, it, vi } from "vitest";
import html from "../index.html?raw";
import { CallView, NOTICE_MS, fieldFor, presenceText } from "./call";
import type { AppError, CallInfo, CallMessage, JoinRequest, Presence } from "./bindings";
import type { Channel } from "./tauri";

type Message = CallMessage | ArrayBuffer;
/** What `start_call` does with a join: answer (after sending on the channel), or fail. */
type StartCall = (join: JoinRequest | null, channel: Channel<Message>) => Promise<CallInfo>;

const calls: { command: string; args: Record<string, unknown> | undefined }[] = [];
const channels: Channel<Message>[] = [];
let startCall: StartCall;

const info = (room: string, muted = false): CallInfo => ({
  room, mode: room === "demo" ? "demo" : "room", iceWarning: null, audioMuted: muted, videoMuted: muted,
});

function install(): void {
  (window as unknown as { __TAURI__: unknown }).__TAURI__ = {
    core: {
      Channel: class { onmessage = (_: unknown) => {}; },
      invoke: async (command: string, args?: Record<string, unknown>) => {
        calls.push({ command, args });
        if (command === "start_call") {
          const channel = args!.onEvent as Channel<Message>;
          channels.push(channel);
          return startCall((args!.join as JoinRequest | null) ?? null, channel);
        }
        return null;
      },
    },
  };
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const remoteTiles = () => [...document.querySelectorAll<HTMLElement>(".tile[data-remote]")].map((t) => t.dataset.remote);
const flush = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

function fillAndSubmit(fields: Record<string, string>): void {
  for (const [id, value] of Object.entries(fields)) $<HTMLInputElement>(id).value = value;
  $("join-panel").dispatchEvent(new Event("submit", { cancelable: true }));
}

function view(onPresence?: (change: Presence, text: string) => void): CallView {
  return new CallView({ onStats: () => {}, qualityOf: () => null, onOpenDetails: () => {}, onCallStarted: () => {}, onPresence });
}

describe("call flows", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    document.body.innerHTML = html.slice(html.indexOf("<body>") + 6, html.indexOf("</body>")).replace(/<script[^>]*><\/script>/g, "");
    calls.length = 0;
    channels.length = 0;
    startCall = async () => info("demo");
    install();
  });

  it("a refused join keeps the call shown, says why in the dialog, and a corrected one replaces it", async () => {
    const v = view();
    await v.start();
    channels[0].onmessage({ type: "status", tileId: "p1", label: "Ann", state: "connected", detail: "direct" });

    $("open-join").click();
    expect($("join-panel").hidden).toBe(false);
    expect(document.activeElement).toBe($("join-server"));
    let answer!: (e: AppError) => void;
    startCall = () => new Promise((_, reject) => (answer = reject));
    fillAndSubmit({ "join-server": "ws://127.0.0.1:9", "join-room": "standup", "join-name": "Me" });
    await flush();
    // On its way: the dialog says so, its buttons wait, the call goes on.
    expect($<HTMLButtonElement>("join-submit").disabled).toBe(true);
    expect($("join-progress").textContent).toContain("The current call goes on");
    channels[0].onmessage({ type: "status", tileId: "p2", label: "Bob", state: "connecting", detail: "" });
    expect(remoteTiles()).toEqual(["p1", "p2"]);
    answer({ code: "signalingUnreachable", message: "cannot reach the signaling server at ws://127.0.0.1:9: refused" });
    await flush();

    expect($("join-panel").hidden).toBe(false);
    expect($("join-error").hidden).toBe(false);
    expect($("join-error").textContent).toBe("cannot reach the signaling server at ws://127.0.0.1:9: refused");
    expect($("join-error").getAttribute("role")).toBe("alert");
    expect(document.activeElement).toBe($("join-server"));
    expect($("join-server").getAttribute("aria-invalid")).toBe("true");
    expect($<HTMLInputElement>("join-room").value).toBe("standup");
    expect($<HTMLButtonElement>("join-submit").disabled).toBe(false);
    // The call shown is untouched and still listened to.
    expect($("left").hidden).toBe(true);
    expect($("room-name").textContent).toBe("demo");
    expect(remoteTiles()).toEqual(["p1", "p2"]);
    channels[0].onmessage({ type: "status", tileId: "p2", label: "Bob", state: "left", detail: "" });
    expect(remoteTiles()).toEqual(["p1"]);

    // Cancel goes back to it; "Join a room…" opens the dialog again, as it was left.
    $("join-cancel").click();
    expect($("join-panel").hidden).toBe(true);
    expect($("join-error").hidden).toBe(true);
    $("open-join").click();
    expect($<HTMLInputElement>("join-room").value).toBe("standup");

    // Corrected: the new call's first messages arrive before its answer, and wait for it.
    startCall = async (join, channel) => {
      channel.onmessage({ type: "status", tileId: "q1", label: "Cy", state: "connecting", detail: "" });
      return info(join!.room);
    };
    fillAndSubmit({ "join-server": "ws://127.0.0.1:8787" });
    await flush();
    expect(calls.at(-1)!.args!.join).toEqual({ signalUrl: "ws://127.0.0.1:8787", room: "standup", name: "Me", roomSecret: undefined });
    expect($("join-panel").hidden).toBe(true);
    expect($("room-name").textContent).toBe("standup");
    expect(remoteTiles()).toEqual(["q1"]);
    // The old call's channel is not heard any more.
    channels[0].onmessage({ type: "status", tileId: "p9", label: "Old", state: "connecting", detail: "" });
    expect(remoteTiles()).toEqual(["q1"]);
  });

  it("puts the focus on the field an error is about", async () => {
    expect(fieldFor("roomLocked")).toBe("join-secret");
    expect(fieldFor("missingRoom")).toBe("join-room");
    expect(fieldFor("invalidSignalUrl")).toBe("join-server");
    expect(fieldFor("mediaFailed")).toBeNull();
    await view().start();
    $("open-join").click();
    startCall = async () => {
      throw { code: "roomLocked", message: "the room is locked (room_locked): ask whoever opened it for the secret" } satisfies AppError;
    };
    fillAndSubmit({ "join-server": "ws://127.0.0.1:8787", "join-room": "standup" });
    await flush();
    expect(document.activeElement).toBe($("join-secret"));
    expect($("join-secret").getAttribute("aria-invalid")).toBe("true");
    // Typing in it clears the mark.
    $("join-secret").dispatchEvent(new Event("input"));
    expect($("join-secret").hasAttribute("aria-invalid")).toBe(false);
  });

  it("a failure after the hand-over ends the view with the reason, and Rejoin and Join a room", async () => {
    await view().start();
    $("open-join").click();
    startCall = async () => {
      throw { code: "mediaFailed", message: "media pipeline failed: no encoder" } satisfies AppError;
    };
    fillAndSubmit({ "join-server": "ws://127.0.0.1:8787", "join-room": "standup" });
    await flush();
    expect($("left").hidden).toBe(false);
    expect($("left-detail").textContent).toBe("The call could not start: media pipeline failed: no encoder");
    expect($("join-error").textContent).toBe("media pipeline failed: no encoder");
    $("join-cancel").click();
    expect($("join-panel").hidden).toBe(true);
    expect(document.activeElement).toBe($("left-join"));
    $("left-join").click();
    expect($("join-panel").hidden).toBe(false);
  });

  it("after leaving, the left screen offers Rejoin and Join a room", async () => {
    startCall = async () => info("standup", true);
    const v = view();
    await v.start({ signalUrl: "ws://127.0.0.1:8787", room: "standup", name: "" });
    await v.leave();
    expect(calls.at(-1)!.command).toBe("leave_call");
    expect($("left").hidden).toBe(false);
    expect($("left-title").textContent).toBe("You left the call");
    $("left-join").click();
    expect($("join-panel").hidden).toBe(false);
    $("join-cancel").click();
    $("rejoin").click();
    await flush();
    expect(calls.at(-1)!.args!.join).toEqual({ signalUrl: "ws://127.0.0.1:8787", room: "standup", name: "" });
    expect($("left").hidden).toBe(true);
  });

  it("announces who came and went for a few seconds, and tells the timeline", async () => {
    const told: string[] = [];
    await view((change, text) => told.push(`${change}: ${text}`)).start();
    const send = (m: CallMessage) => channels[0].onmessage(m);
    send({ type: "presence", tileId: "p2", label: "Bob", change: "joined" });
    send({ type: "status", tileId: "p2", label: "Bob", state: "connecting", detail: "" });
    vi.advanceTimersByTime(NOTICE_MS / 2);
    send({ type: "status", tileId: "p2", label: "Bob", state: "left", detail: "left the call" });
    send({ type: "presence", tileId: "p2", label: "Bob", change: "left" });
    send({ type: "presence", tileId: "p3", label: "Cy", change: "lost" });
    const box = $("call-notices");
    expect(box.getAttribute("role")).toBe("status");
    expect([...box.children].map((c) => c.textContent)).toEqual(["Bob joined the call", "Bob left the call", "Lost connection to Cy"]);
    expect(told).toEqual(["joined: Bob joined the call", "left: Bob left the call", "lost: Lost connection to Cy"]);
    expect(remoteTiles()).toEqual([]);
    vi.advanceTimersByTime(NOTICE_MS / 2 + 1);
    expect([...box.children].map((c) => c.textContent)).toEqual(["Bob left the call", "Lost connection to Cy"]);
    vi.advanceTimersByTime(NOTICE_MS);
    expect(box.children.length).toBe(0);
    expect(presenceText("lost", "Ann")).toBe("Lost connection to Ann");
  });

  it("shows the microphone and camera as the backend kept them", async () => {
    startCall = async () => info("demo", true);
    await view().start();
    expect($("mute").textContent).toBe("Unmute");
    expect($("mute").getAttribute("aria-pressed")).toBe("true");
    expect($("camera").textContent).toBe("Start camera");
    expect(document.querySelector<HTMLElement>(".tile.local .camera-off")!.hidden).toBe(false);
  });
});
