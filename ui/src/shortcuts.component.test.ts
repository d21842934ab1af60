// Keyboard shortcuts on the real page markup with the call view against a stand-in backend: a
// shortcut presses its button (so it mutes through the same command a click sends), is shown in
// the tooltip and aria-keyshortcuts, and does nothing while the user types in a field.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import html from "../index.html?raw";
import { CallView } from "./call";
import { installShortcuts } from "./shortcuts";

const calls: { command: string; args: Record<string, unknown> | undefined }[] = [];
let uninstall: () => void = () => {};

function fakeBackend() {
  return {
    core: {
      Channel: class { onmessage = (_: unknown) => {}; },
      invoke: async (command: string, args?: Record<string, unknown>) => {
        calls.push({ command, args });
        switch (command) {
          case "start_call":
            return { room: "demo", mode: "demo", iceWarning: null, audioMuted: false, videoMuted: false };
          default:
            return null;
        }
      },
    },
  };
}

function press(target: EventTarget, code: string, options: KeyboardEventInit = {}): KeyboardEvent {
  const key = code.replace(/^(Key|Digit)/, "").toLowerCase();
  const event = new KeyboardEvent("keydown", { code, key, ctrlKey: true, bubbles: true, cancelable: true, ...options });
  target.dispatchEvent(event);
  return event;
}

const muteCalls = () => calls.filter((c) => c.command === "set_muted").map((c) => c.args);

describe("keyboard shortcuts", () => {
  beforeEach(async () => {
    vi.useFakeTimers();
    document.body.innerHTML = html.slice(html.indexOf("<body>") + 6, html.indexOf("</body>")).replace(/<script[^>]*><\/script>/g, "");
    calls.length = 0;
    (window as unknown as { __TAURI__: unknown }).__TAURI__ = fakeBackend();
    const view = new CallView({ onStats: () => {}, qualityOf: () => null, onOpenDetails: () => {}, onCallStarted: () => {} });
    await view.start();
    uninstall = installShortcuts();
  });

  afterEach(() => uninstall());

  it("Ctrl+D toggles the microphone as the Mute button does, and says so in its tooltip", async () => {
    const mute = document.getElementById("mute")!;
    expect(mute.title).toBe("Microphone off or on (Ctrl+D)");
    expect(mute.getAttribute("aria-keyshortcuts")).toBe("Control+D");
    const event = press(document.body, "KeyD");
    expect(event.defaultPrevented).toBe(true);
    await vi.advanceTimersByTimeAsync(10);
    expect(muteCalls()).toEqual([{ kind: "audio", muted: true }]);
    expect(mute.getAttribute("aria-pressed")).toBe("true");
    press(document.body, "KeyD");
    await vi.advanceTimersByTimeAsync(10);
    expect(muteCalls()).toEqual([{ kind: "audio", muted: true }, { kind: "audio", muted: false }]);
    expect(mute.getAttribute("aria-pressed")).toBe("false");
    // Ctrl+E: the camera.
    press(document.body, "KeyE");
    await vi.advanceTimersByTimeAsync(10);
    expect(muteCalls().at(-1)).toEqual({ kind: "video", muted: true });
  });

  it("is ignored while typing in a field", async () => {
    const room = document.getElementById("join-room") as HTMLInputElement;
    room.focus();
    const event = press(room, "KeyD");
    const secret = document.getElementById("join-secret") as HTMLInputElement;
    press(secret, "KeyE");
    const box = document.getElementById("ice-json") as HTMLTextAreaElement;
    press(box, "Digit3");
    await vi.advanceTimersByTimeAsync(10);
    expect(event.defaultPrevented).toBe(false);
    expect(muteCalls()).toEqual([]);
    expect(document.getElementById("mute")!.getAttribute("aria-pressed")).toBe("false");
    expect(document.getElementById("nav-settings")!.getAttribute("aria-selected")).toBe("false");
    // A plain D (no Ctrl) is never a shortcut.
    press(document.body, "KeyD", { ctrlKey: false });
    await vi.advanceTimersByTimeAsync(10);
    expect(muteCalls()).toEqual([]);
  });

  it("Ctrl+1…4 press the tabs and Ctrl+Shift+H the Leave button", async () => {
    const tabs = ["nav-call", "nav-health", "nav-settings", "nav-devices"];
    tabs.forEach((id, i) => expect(document.getElementById(id)!.title).toContain(`(Ctrl+${i + 1})`));
    const pressed: string[] = [];
    for (const id of tabs) document.getElementById(id)!.addEventListener("click", () => pressed.push(id));
    press(document.body, "Digit3");
    press(document.body, "Digit2");
    expect(pressed).toEqual(["nav-settings", "nav-health"]);
    const leave = document.getElementById("leave")!;
    expect(leave.getAttribute("aria-keyshortcuts")).toBe("Control+Shift+H");
    press(document.body, "KeyH");
    await vi.advanceTimersByTimeAsync(10);
    expect(calls.some((c) => c.command === "leave_call")).toBe(false);
    press(document.body, "KeyH", { shiftKey: true });
    await vi.advanceTimersByTimeAsync(10);
    expect(calls.some((c) => c.command === "leave_call")).toBe(true);
  });
});
