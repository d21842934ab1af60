// The settings page against a stand-in backend (window.__TAURI__ replaced by a fake that answers
// like the Rust commands). The real backend is exercised by tests/ui_e2e.rs; here we check the
// page's own behaviour: validation messages shown as typed, Save disabled while invalid, the
// credentials sent apart from the settings.
import { beforeEach, describe, expect, it, vi } from "vitest";
import html from "../index.html?raw";
import { SettingsPage } from "./settings";
import type { Settings } from "./bindings";

const calls: { command: string; args: Record<string, unknown> | undefined }[] = [];
let stored: Settings;

function fakeBackend() {
  return {
    core: {
      Channel: class { onmessage = (_: unknown) => {}; },
      invoke: async (command: string, args?: Record<string, unknown>) => {
        calls.push({ command, args });
        switch (command) {
          case "get_settings":
            return { settings: stored, credentialStorage: "Passwords are saved in /tmp/x (readable only by you)", configDir: "/tmp" };
          case "check_ice_url": {
            const url = String(args!.url);
            return /^(stun|turns?):/.test(url) ? null : `ICE server URL "${url}": unknown scheme (expected stun:, turn: or turns:)`;
          }
          case "save_settings":
            stored = args!.settings as Settings;
            return { ...stored, servers: stored.servers.map((s) => ({ ...s, hasCredential: true })) };
          default:
            throw { code: "callFailed", message: command };
        }
      },
    },
  };
}

async function settle() {
  await vi.advanceTimersByTimeAsync(400);
}

describe("settings page", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    // The page's markup without its entry script (the views are constructed by the test).
    document.body.innerHTML = html.slice(html.indexOf("<body>") + 6, html.indexOf("</body>")).replace(/<script[^>]*><\/script>/g, "");
    stored = { displayName: "Me", camera: null, microphone: null, speaker: null, detailedLogs: false, servers: [] };
    calls.length = 0;
    (window as unknown as { __TAURI__: unknown }).__TAURI__ = fakeBackend();
  });

  it("shows the parser's message for a bad URL and keeps Save disabled", async () => {
    const page = new SettingsPage(() => {});
    await page.load();
    document.getElementById("add-server")!.click();
    const url = document.querySelector<HTMLInputElement>("#server-list .server .server-url")!;
    url.value = "http://nope.example";
    url.dispatchEvent(new Event("input"));
    await settle();
    const error = document.querySelector<HTMLElement>("#server-list .url-error")!;
    expect(error.hidden).toBe(false);
    expect(error.textContent).toContain("unknown scheme");
    expect(url.getAttribute("aria-invalid")).toBe("true");
    expect(document.querySelector<HTMLButtonElement>("#save-settings")!.disabled).toBe(true);
  });

  it("saves a valid server with its password sent apart", async () => {
    let saved = 0;
    const page = new SettingsPage(() => saved++);
    await page.load();
    expect(document.getElementById("credential-storage")!.textContent).toContain("readable only by you");
    document.getElementById("add-server")!.click();
    const item = document.querySelector<HTMLElement>("#server-list .server")!;
    const set = (selector: string, value: string) => {
      const input = item.querySelector<HTMLInputElement>(selector)!;
      input.value = value;
      input.dispatchEvent(new Event("input"));
    };
    set(".server-url", "turn:127.0.0.1:3478?transport=udp");
    set(".server-username", "natter");
    set(".server-credential", "pw-123");
    await settle();
    const save = document.querySelector<HTMLButtonElement>("#save-settings")!;
    expect(save.disabled).toBe(false);
    save.click();
    await settle();
    const call = calls.find((c) => c.command === "save_settings")!;
    expect(JSON.stringify(call.args!.settings)).not.toContain("pw-123");
    expect(call.args!.credentials).toEqual([{ id: stored.servers[0].id, credential: "pw-123" }]);
    expect(saved).toBe(1);
    expect(document.getElementById("save-result")!.textContent).toContain("Saved");
  });
});
