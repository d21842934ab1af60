// The call view against a stand-in backend (window.__TAURI__ replaced by a fake that answers like
// the Rust commands): the generated `commands` send the right command and arguments, and the
// typed channel messages (bindings.ts `CallMessage`) reach the tiles. The real backend is
// exercised by tests/ui_e2e.rs.
import { beforeEach, describe, expect, it, vi } from "vitest";
import html from "../index.html?raw";
import { CallView } from "./call";
import type { CallInfo, CallMessage } from "./bindings";
import type { Channel } from "./tauri";

const calls: { command: string; args: Record<string, unknown> | undefined }[] = [];
let callChannel: Channel<CallMessage | ArrayBuffer> | null = null;

function fakeBackend() {
  return {
    core: {
      Channel: class { onmessage = (_: unknown) => {}; },
      invoke: async (command: string, args?: Record<string, unknown>) => {
        calls.push({ command, args });
        switch (command) {
          case "start_call":
            callChannel = args!.onEvent as Channel<CallMessage | ArrayBuffer>;
            return { room: "demo", mode: "demo", iceWarning: null, audioMuted: false, videoMuted: false } satisfies CallInfo;
          case "set_muted":
          case "frames_drawn":
          case "leave_call":
            return null;
          default:
            throw { code: "callFailed", message: command };
        }
      },
    },
  };
}

function send(message: CallMessage): void {
  callChannel!.onmessage(message);
}

describe("call view", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    document.body.innerHTML = html.slice(html.indexOf("<body>") + 6, html.indexOf("</body>")).replace(/<script[^>]*><\/script>/g, "");
    calls.length = 0;
    callChannel = null;
    (window as unknown as { __TAURI__: unknown }).__TAURI__ = fakeBackend();
  });

  it("shows what the typed channel says and mutes through the generated commands", async () => {
    const stats: number[] = [];
    const view = new CallView({
      onStats: (atMs) => stats.push(atMs),
      qualityOf: () => null,
      onOpenDetails: () => {},
      onCallStarted: () => {},
      onPainting: () => {},
    });
    await view.start();
    expect(calls[0]).toEqual({ command: "start_call", args: { onEvent: callChannel, join: null } });
    expect(document.getElementById("room-name")!.textContent).toBe("demo");

    send({ type: "status", tileId: "p1", label: "Ann", state: "connected", detail: "direct" });
    const tile = document.querySelector<HTMLElement>('[data-remote="p1"]')!;
    expect(tile.querySelector(".name")!.textContent).toBe("Ann");
    expect(document.getElementById("call-summary")!.textContent).toBe("1 of 1 connected");

    send({ type: "media", tileId: "p1", audioMuted: true, videoMuted: false });
    expect(tile.querySelector<HTMLElement>(".mic-off")!.hidden).toBe(false);

    send({ type: "notice", medium: "camera", message: "No camera found: you are not sending video." });
    const notice = document.getElementById("device-notice")!;
    expect(notice.hidden).toBe(false);
    expect(notice.textContent).toBe("No camera found: you are not sending video.");

    send({
      type: "stats",
      atMs: 1000,
      report: {
        id: "me", name: "Me", peers: [], frames_sent: 0, crashed: null,
        local_media: {
          camera: { device: "test pattern (synthetic camera)", sending: true, off: false, problem: null, message: null },
          microphone: { device: "tone", sending: true, off: false, problem: null, message: null },
        },
        signaling: { state: "connected", reconnects: 0, events: [] },
      },
    });
    expect(stats).toEqual([1000]);

    await view.toggle("audio");
    expect(calls.at(-1)).toEqual({ command: "set_muted", args: { kind: "audio", muted: true } });
    expect(document.getElementById("mute")!.textContent).toBe("Unmute");

    send({ type: "status", tileId: "p1", label: "Ann", state: "left", detail: "" });
    expect(document.querySelector('[data-remote="p1"]')).toBeNull();

    send({ type: "ended" });
    expect(document.getElementById("left")!.hidden).toBe(false);
    expect(document.getElementById("left-title")!.textContent).toBe("The call ended");
  });

  it("says why a call could not start", async () => {
    (window as unknown as { __TAURI__: unknown }).__TAURI__ = {
      core: {
        ...fakeBackend().core,
        invoke: async () => {
          throw { code: "signalingUnreachable", message: "cannot reach the signaling server at ws://127.0.0.1:1" };
        },
      },
    };
    const view = new CallView({ onStats: () => {}, qualityOf: () => null, onOpenDetails: () => {}, onCallStarted: () => {}, onPainting: () => {} });
    await view.start({ signalUrl: "ws://127.0.0.1:1", room: "r", name: "" });
    expect(document.getElementById("left-title")!.textContent).toBe("Not in a call");
    expect(document.getElementById("left-detail")!.textContent).toBe("The call could not start: cannot reach the signaling server at ws://127.0.0.1:1");
    expect(document.body.textContent).not.toContain("see above");
  });
});
