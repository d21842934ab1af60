// The ICE-server settings page: list, add, edit, remove, reorder; validation as you type with the
// Rust parser's own messages; Test per server and Test all; W3C import/export; Save applies to the
// running call. Editing state lives in SettingsModel (settings-model.ts); this file is the DOM.
import { commands, type ServerHealth } from "./bindings";
import { SettingsModel, needsCredential, type EditableServer } from "./settings-model";
import { ms, statusWords, transportWords } from "./format";
import { describeError, inApp } from "./tauri";
import { byId, cloneTemplate, el } from "./dom";

/** Split what the user typed in the URL box into URLs (spaces, commas or new lines between). */
export function splitUrls(text: string): string[] {
  return text.split(/[\s,]+/).map((u) => u.trim()).filter((u) => u.length > 0);
}

export class SettingsPage {
  private model: SettingsModel | null = null;
  private checkTimers = new Map<string, number>();

  constructor(private onSaved: () => void) {
    byId("add-server").addEventListener("click", () => this.addServer());
    byId("test-all").addEventListener("click", () => void this.testAll());
    byId("save-settings").addEventListener("click", () => void this.save());
    byId("import-json").addEventListener("click", () => void this.importJson());
    byId("export-json").addEventListener("click", () => void this.exportJson());
  }

  async load(): Promise<void> {
    if (!inApp()) return;
    try {
      const view = await commands.getSettings();
      this.model = new SettingsModel(view.settings);
      byId("credential-storage").textContent = view.credentialStorage;
      this.render();
    } catch (e) {
      byId("save-result").textContent = `Cannot read the settings: ${describeError(e)}`;
    }
  }

  private render(): void {
    const list = byId("server-list");
    list.replaceChildren(...(this.model?.servers ?? []).map((s, i, all) => this.renderServer(s, i, all.length)));
    this.updateSaveState();
  }

  private renderServer(server: EditableServer, index: number, count: number): HTMLElement {
    const item = cloneTemplate("server-template");
    const id = server.entry.id;
    item.dataset.id = id;
    const url = item.querySelector<HTMLInputElement>(".server-url")!;
    const user = item.querySelector<HTMLInputElement>(".server-username")!;
    const credential = item.querySelector<HTMLInputElement>(".server-credential")!;
    const kind = item.querySelector<HTMLSelectElement>(".server-credential-type")!;
    url.value = server.entry.urls.join(" ");
    url.setAttribute("aria-label", `URLs of server ${index + 1}`);
    user.value = server.entry.username ?? "";
    kind.value = server.entry.credentialType;
    credential.value = server.newCredential ?? "";
    credential.placeholder = server.entry.hasCredential ? "saved (type to replace)" : needsCredential(server.entry) ? "required for TURN" : "not needed for STUN";
    url.addEventListener("input", () => {
      server.entry.urls = splitUrls(url.value);
      this.scheduleCheck(item, server);
      this.updateSaveState();
    });
    user.addEventListener("input", () => {
      server.entry.username = user.value;
      this.updateSaveState();
    });
    credential.addEventListener("input", () => {
      server.newCredential = credential.value;
      this.updateSaveState();
    });
    kind.addEventListener("change", () => {
      server.entry.credentialType = kind.value as typeof server.entry.credentialType;
      this.updateSaveState();
    });
    const up = item.querySelector<HTMLButtonElement>(".move-up")!;
    const down = item.querySelector<HTMLButtonElement>(".move-down")!;
    up.disabled = index === 0;
    down.disabled = index === count - 1;
    up.addEventListener("click", () => this.move(id, -1));
    down.addEventListener("click", () => this.move(id, 1));
    item.querySelector(".remove-server")!.addEventListener("click", () => {
      this.model?.remove(id);
      this.render();
    });
    item.querySelector(".test-server")!.addEventListener("click", () => void this.test(item, server));
    if (server.entry.urls.length) this.scheduleCheck(item, server, 0);
    return item;
  }

  private move(id: string, delta: -1 | 1): void {
    this.model?.move(id, delta);
    this.render();
    // Keep the keyboard where the user was.
    document.querySelector<HTMLButtonElement>(`.server[data-id="${CSS.escape(id)}"] .${delta < 0 ? "move-up" : "move-down"}`)?.focus();
  }

  private addServer(): void {
    if (!this.model) return;
    const server = this.model.add([]);
    this.render();
    document.querySelector<HTMLInputElement>(`.server[data-id="${CSS.escape(server.entry.id)}"] .server-url`)?.focus();
  }

  /** Validate the URLs with the Rust parser a moment after typing stops. */
  private scheduleCheck(item: HTMLElement, server: EditableServer, delay = 150): void {
    const id = server.entry.id;
    window.clearTimeout(this.checkTimers.get(id));
    this.checkTimers.set(id, window.setTimeout(() => void this.check(item, server), delay));
  }

  private async check(item: HTMLElement, server: EditableServer): Promise<boolean> {
    const box = item.querySelector<HTMLElement>(".url-error")!;
    const input = item.querySelector<HTMLInputElement>(".server-url")!;
    const problems: string[] = [];
    if (!server.entry.urls.length) problems.push("Enter at least one stun:, turn: or turns: URL.");
    for (const url of server.entry.urls) {
      const problem = await commands.checkIceUrl(url);
      if (problem) problems.push(problem);
    }
    box.textContent = problems.join(" ");
    box.hidden = problems.length === 0;
    input.setAttribute("aria-invalid", problems.length ? "true" : "false");
    this.updateSaveState();
    return problems.length === 0;
  }

  private async test(item: HTMLElement, server: EditableServer): Promise<void> {
    const out = item.querySelector<HTMLElement>(".test-result")!;
    if (!(await this.check(item, server))) {
      out.replaceChildren(el("li", "bad", "Fix the URL first."));
      return;
    }
    out.replaceChildren(el("li", "muted", "testing…"));
    try {
      const results = await commands.testIceServer(server.entry, server.newCredential);
      out.replaceChildren(...results.map(resultLine));
    } catch (e) {
      out.replaceChildren(el("li", "bad", describeError(e)));
    }
  }

  private async testAll(): Promise<void> {
    const items = [...document.querySelectorAll<HTMLElement>("#server-list .server")];
    await Promise.all(items.map((item) => {
      const server = this.model?.find(item.dataset.id ?? "");
      return server ? this.test(item, server) : Promise.resolve();
    }));
  }

  private updateSaveState(): void {
    const anyInvalid = document.querySelector("#server-list .url-error:not([hidden])") !== null;
    const save = byId<HTMLButtonElement>("save-settings");
    save.disabled = anyInvalid || !this.model?.dirty;
    if (this.model?.dirty) byId("save-result").textContent = anyInvalid ? "Fix the errors above to save." : "Unsaved changes.";
  }

  private async save(): Promise<void> {
    if (!this.model) return;
    const { settings, credentials } = this.model.toSave();
    const result = byId("save-result");
    result.textContent = "saving…";
    try {
      const saved = await commands.saveSettings(settings, credentials);
      this.model.saved_as(saved);
      this.render();
      result.textContent = "Saved. Calls in progress move to these servers.";
      this.onSaved();
    } catch (e) {
      result.textContent = `Not saved: ${describeError(e)}`;
    }
  }

  private async importJson(): Promise<void> {
    const result = byId("import-result");
    try {
      const imported = await commands.importIceServers(byId<HTMLTextAreaElement>("ice-json").value);
      this.model?.addImported(imported.servers, imported.credentials);
      this.render();
      result.textContent = `Added ${imported.servers.length} server(s); press Save to keep them.`;
    } catch (e) {
      result.textContent = describeError(e);
    }
  }

  private async exportJson(): Promise<void> {
    const result = byId("import-result");
    try {
      byId<HTMLTextAreaElement>("ice-json").value = await commands.exportIceServers(byId<HTMLInputElement>("export-with-credentials").checked);
      result.textContent = "The saved servers are in the box above.";
    } catch (e) {
      result.textContent = describeError(e);
    }
  }
}

/** "TURN UDP: ok, 3.2 ms" / "TURN TCP: wrong username or password — …". */
export function resultLine(h: ServerHealth): HTMLElement {
  const item = el("li", h.status === "ok" ? "ok" : "bad");
  item.dataset.transport = h.transport;
  item.dataset.status = h.status;
  const head = `${transportWords(h.transport)}: ${statusWords(h.status)}`;
  item.textContent = h.status === "ok" ? `${head}, ${ms(h.rtt_ms)}` : `${head}${h.error ? ` — ${h.error}` : ""}`;
  return item;
}
