// The settings page against a stand-in backend (window.__TAURI__ replaced by a fake that answers
// like the Rust commands). The real backend is exercised by tests/ui_e2e.rs; here we check the
// page's own behaviour: validation messages shown as typed, fields per kind of server, Test and
// Save refused or asked about, the credentials sent apart from the settings, import and export.
//
// `check_ice_urls` answers from testdata/url-checks.json, which src-tauri/src/bindings.rs writes
// from the Rust parser itself (and tests/it/probe.rs checks `natter probe` says the same words):
// the messages here are the backend's, not the fake's.
import { beforeEach, describe, expect, it, vi } from "vitest";
import html from "../index.html?raw";
import urlChecksText from "./testdata/url-checks.json?raw";
import { SettingsPage } from "./settings";
import type { ServerHealth, Settings, UrlsCheck } from "./bindings";

const urlChecks = JSON.parse(urlChecksText) as Record<string, UrlsCheck>;
const calls: { command: string; args: Record<string, unknown> | undefined }[] = [];
let stored: Settings;
let testAnswer: ServerHealth[];

function health(status: ServerHealth["status"], error: string | null = null): ServerHealth {
  return {
    url: "turn:127.0.0.1:3478?transport=udp", transport: "udp", status, rtt_ms: status === "ok" ? 3.2 : null,
    mapped_address: null, relayed_address: null, error, attempts: 1, elapsed_ms: 4,
  };
}

function fakeBackend() {
  return {
    core: {
      Channel: class { onmessage = (_: unknown) => {}; },
      invoke: async (command: string, args?: Record<string, unknown>) => {
        calls.push({ command, args });
        switch (command) {
          case "get_settings":
            return { settings: stored, credentialStorage: "Passwords are saved in /tmp/x (readable only by you)", configDir: "/tmp" };
          case "check_ice_urls": {
            const text = String(args!.text);
            const check = urlChecks[text];
            if (!check) throw { code: "callFailed", message: `no sample for ${JSON.stringify(text)}: add it to URL_SAMPLES in bindings.rs` };
            return check;
          }
          case "test_ice_server":
            return testAnswer;
          case "save_settings":
            stored = args!.settings as Settings;
            return { ...stored, servers: stored.servers.map((s) => ({ ...s, hasCredential: true })) };
          case "import_ice_servers":
            return {
              servers: [{ id: "imp1", urls: ["turn:127.0.0.1:3478"], username: "u", credentialType: "password", hasCredential: true }],
              credentials: [{ id: "imp1", credential: "pasted-secret" }],
            };
          case "save_ice_servers_file":
            return "/home/ann/Downloads/natter-ice-servers-2026-12-08-0142.json";
          case "show_in_folder":
            return null;
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

const $ = <T extends HTMLElement = HTMLElement>(selector: string, root: ParentNode = document) => root.querySelector<T>(selector)!;

/** Add a server and type into its fields (each typed at once, as a paste). */
async function addServer(fields: { url: string; username?: string; credential?: string }): Promise<HTMLElement> {
  $("#add-server").click();
  const item = [...document.querySelectorAll<HTMLElement>("#server-list .server")].at(-1)!;
  const type = (selector: string, value: string) => {
    const input = $<HTMLInputElement>(selector, item);
    input.value = value;
    input.dispatchEvent(new Event("input"));
  };
  type(".server-url", fields.url);
  await settle();
  if (fields.username !== undefined) type(".server-username", fields.username);
  if (fields.credential !== undefined) type(".server-credential", fields.credential);
  await settle();
  return item;
}

describe("settings page", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    // The page's markup without its entry script (the views are constructed by the test).
    document.body.innerHTML = html.slice(html.indexOf("<body>") + 6, html.indexOf("</body>")).replace(/<script[^>]*><\/script>/g, "");
    stored = { displayName: "Me", camera: null, microphone: null, speaker: null, detailedLogs: false, servers: [] };
    testAnswer = [health("ok")];
    calls.length = 0;
    (window as unknown as { __TAURI__: unknown }).__TAURI__ = fakeBackend();
  });

  it("shows the parser's message for a bad URL, keeps Save disabled, and keeps the row's layout", async () => {
    const page = new SettingsPage(() => {});
    await page.load();
    $("#add-server").click();
    // The problem line is there before any problem: its space is reserved, nothing moves later.
    const error = $("#server-list .url-error");
    expect(error.hidden).toBe(false);
    const item = await addServer({ url: "http://nope.example" });
    expect($(".url-error", item).textContent).toBe(urlChecks["http://nope.example"].problems[0]);
    expect($(".server-url", item).getAttribute("aria-invalid")).toBe("true");
    expect($<HTMLButtonElement>("#save-settings").disabled).toBe(true);
  });

  it("says of a space in a host what the CLI says, without cutting the URL in two", async () => {
    const page = new SettingsPage(() => {});
    await page.load();
    const item = await addServer({ url: "stun:exa mple.org" });
    const cli = urlChecks["stun:exa mple.org"].problems[0];
    expect(cli).toContain("host contains ' '");
    expect($(".url-error", item).textContent).toBe(cli);
    // The whole box went to the backend as one text; no URL "mple.org" was invented.
    const asked = calls.filter((c) => c.command === "check_ice_urls").map((c) => c.args!.text);
    expect(asked).toContain("stun:exa mple.org");
    expect(asked).not.toContain("mple.org");
    expect($<HTMLButtonElement>(".test-server", item).disabled).toBe(true);
  });

  it("fields follow the kind of server: STUN takes no credentials, TURN needs them before Test", async () => {
    const page = new SettingsPage(() => {});
    await page.load();
    const stun = await addServer({ url: "stun:127.0.0.1:3478" });
    const stunPassword = $<HTMLInputElement>(".server-credential", stun);
    expect(stunPassword.disabled).toBe(true);
    expect($<HTMLInputElement>(".server-username", stun).disabled).toBe(true);
    expect(stunPassword.title).toContain("STUN servers take no username or password");
    expect($<HTMLButtonElement>(".test-server", stun).disabled).toBe(false);

    const turn = await addServer({ url: "turn:127.0.0.1:3478?transport=udp" });
    const user = $<HTMLInputElement>(".server-username", turn);
    const password = $<HTMLInputElement>(".server-credential", turn);
    expect(user.disabled || password.disabled).toBe(false);
    expect(user.required && password.required).toBe(true);
    expect(password.placeholder).toBe("required for TURN");
    expect(password.placeholder).not.toContain("STUN");
    // Before Test: Test is disabled and the row says what is missing.
    const test = $<HTMLButtonElement>(".test-server", turn);
    expect(test.disabled).toBe(true);
    expect($(".url-error", turn).textContent).toBe("A TURN server needs a username and a password.");
    expect(test.title).toContain("A TURN server needs a username and a password.");
    expect($<HTMLButtonElement>("#save-settings").disabled).toBe(true);

    user.value = "natter";
    user.dispatchEvent(new Event("input"));
    expect($(".url-error", turn).textContent).toBe("A TURN server needs a password.");
    password.value = "pw-123";
    password.dispatchEvent(new Event("input"));
    expect($(".url-error", turn).textContent).toBe("");
    expect(test.disabled).toBe(false);
    test.click();
    await settle();
    expect(calls.filter((c) => c.command === "test_ice_server")).toHaveLength(1);
    expect($(".test-result", turn).textContent).toBe("UDP: ok, 3.2 ms");
  });

  it("keeps the fields usable while the URL is typed (Tab must not skip them)", async () => {
    const page = new SettingsPage(() => {});
    await page.load();
    $("#add-server").click();
    const item = $("#server-list .server");
    const url = $<HTMLInputElement>(".server-url", item);
    const user = $<HTMLInputElement>(".server-username", item);
    // A new, empty row: nothing is known yet, nothing is disabled.
    expect(user.disabled).toBe(false);
    url.value = "stun:127.0.0.1:3478";
    url.dispatchEvent(new Event("input"));
    expect(user.disabled).toBe(false);
    await settle();
    expect(user.disabled).toBe(true);
    // Turning it into a TURN server: usable at once, required once the backend has read it.
    url.value = "turn:127.0.0.1:3478?transport=udp";
    url.dispatchEvent(new Event("input"));
    expect(user.disabled).toBe(false);
    await settle();
    expect(user.disabled).toBe(false);
    expect(user.required).toBe(true);
  });

  it("saves a valid server with its password sent apart", async () => {
    let saved = 0;
    const page = new SettingsPage(() => saved++);
    await page.load();
    expect(document.getElementById("credential-storage")!.textContent).toContain("readable only by you");
    await addServer({ url: "turn:127.0.0.1:3478?transport=udp", username: "natter", credential: "pw-123" });
    const save = $<HTMLButtonElement>("#save-settings");
    expect(save.disabled).toBe(false);
    save.click();
    await settle();
    const call = calls.find((c) => c.command === "save_settings")!;
    expect(JSON.stringify(call.args!.settings)).not.toContain("pw-123");
    expect(call.args!.credentials).toEqual([{ id: stored.servers[0].id, credential: "pw-123" }]);
    expect(saved).toBe(1);
    expect(document.getElementById("save-result")!.textContent).toContain("Saved");
  });

  it("asks before saving a server that failed its last test, in the page", async () => {
    const page = new SettingsPage(() => {});
    await page.load();
    const item = await addServer({ url: "turn:127.0.0.1:3478?transport=udp", username: "natter", credential: "wrong" });
    testAnswer = [health("auth_failed", "401 Unauthorized")];
    $(".test-server", item).click();
    await settle();
    const failure = $(".test-result", item).textContent!;
    expect(failure).toContain("UDP:");

    $("#save-settings").click();
    await settle();
    const confirm = $("#save-confirm");
    expect(confirm.hidden).toBe(false);
    expect(confirm.getAttribute("role")).toBe("alertdialog");
    expect($("#save-confirm-list").textContent).toBe(`turn:127.0.0.1:3478?transport=udp failed its last test: ${failure}`);
    expect(calls.some((c) => c.command === "save_settings")).toBe(false);
    expect(document.activeElement?.id).toBe("save-cancel");

    $("#save-cancel").click();
    expect(confirm.hidden).toBe(true);
    expect(calls.some((c) => c.command === "save_settings")).toBe(false);
    expect($("#save-result").textContent).toContain("Not saved");

    $("#save-settings").click();
    await settle();
    expect(confirm.hidden).toBe(false);
    $("#save-anyway").click();
    await settle();
    expect(confirm.hidden).toBe(true);
    expect(calls.filter((c) => c.command === "save_settings")).toHaveLength(1);
    expect($("#save-result").textContent).toContain("Saved");
  });

  it("does not ask once the server was changed after its failed test", async () => {
    const page = new SettingsPage(() => {});
    await page.load();
    const item = await addServer({ url: "turn:127.0.0.1:3478?transport=udp", username: "natter", credential: "wrong" });
    testAnswer = [health("auth_failed", "401 Unauthorized")];
    $(".test-server", item).click();
    await settle();
    const password = $<HTMLInputElement>(".server-credential", item);
    password.value = "right";
    password.dispatchEvent(new Event("input"));
    $("#save-settings").click();
    await settle();
    expect($("#save-confirm").hidden).toBe(true);
    expect(calls.filter((c) => c.command === "save_settings")).toHaveLength(1);
  });

  it("empties the import box once the servers are in the list", async () => {
    const page = new SettingsPage(() => {});
    await page.load();
    const box = $<HTMLTextAreaElement>("#ice-json");
    box.value = '{"iceServers":[{"urls":"turn:127.0.0.1:3478","username":"u","credential":"pasted-secret"}]}';
    $("#import-json").click();
    await settle();
    expect(box.value).toBe("");
    expect(document.body.innerHTML).not.toContain("pasted-secret");
    expect(document.querySelectorAll("#server-list .server")).toHaveLength(1);
    expect($("#import-result").textContent).toContain("Added 1 server(s)");
  });

  it("saves the export as a file, says where and offers to show it", async () => {
    const page = new SettingsPage(() => {});
    await page.load();
    const show = $("#show-export");
    expect(show.hidden).toBe(true);
    $("#save-json").click();
    await settle();
    expect($("#import-result").textContent).toBe("Saved to /home/ann/Downloads/natter-ice-servers-2026-12-08-0142.json");
    expect(show.hidden).toBe(false);
    show.click();
    await settle();
    expect(calls.find((c) => c.command === "show_in_folder")!.args).toEqual({ path: "/home/ann/Downloads/natter-ice-servers-2026-12-08-0142.json" });
  });
});
