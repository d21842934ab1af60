// The ICE-server settings page: list, add, edit, remove, reorder; validation as you type by the
// backend (`check_ice_urls`: the Rust parser reads the URL box and its messages are the CLI's);
// fields per kind of server (STUN takes no credentials, TURN needs them, before Test or Save);
// Test per server and Test all; Save warns about servers that failed their last test; W3C
// import/export (to the box, the clipboard or a file). Editing state lives in SettingsModel
// (settings-model.ts); this file is the DOM.
import { commands, type ServerHealth, type UrlsCheck } from "./bindings";
import { SettingsModel, needsCredential, type EditableServer } from "./settings-model";
import { ms, statusWords, transportWords } from "./format";
import { describeError, inApp } from "./tauri";
import { byId, cloneTemplate, el } from "./dom";

/** A row's state that is not part of what is saved. */
interface Row {
  item: HTMLElement;
  server: EditableServer;
  /** The backend's reading of the URL box (null until it answered). */
  check: UrlsCheck | null;
  /** The check in flight or waiting for typing to stop (Save and Test wait for it)… */
  pending: Promise<void> | null;
  /** …and what settles it. */
  resolve: () => void;
  timer: number | undefined;
  /** The last Test's failure, if it failed and nothing was edited since: "TURN UDP: …". */
  failed: string | null;
  /** The URL box was edited and its check has not answered yet: the kind is not known. */
  typing: boolean;
}

/** STUN or TURN by the URLs, or not known while the URL box is being edited (or empty). */
type Kind = "stun" | "turn" | "unknown";

/** Why a TURN server cannot be tested or saved yet (null: it has what it needs). */
export function missingCredentials(server: EditableServer, relay: boolean): string | null {
  if (!relay) return null;
  const sharedSecret = server.entry.credentialType === "shared-secret";
  // With a shared secret (TURN REST) the username is optional: the credentials are derived.
  const user = sharedSecret || !!server.entry.username?.trim();
  const secret = !!server.newCredential || server.entry.hasCredential;
  const what = sharedSecret ? "shared secret" : "password";
  if (!user && !secret) return `A TURN server needs a username and a ${what}.`;
  if (!user) return "A TURN server needs a username.";
  if (!secret) return `A TURN server needs a ${what}.`;
  return null;
}

export class SettingsPage {
  private model: SettingsModel | null = null;
  private rows = new Map<string, Row>();
  /** The path of the last file written from this page (for "Show in folder"). */
  private exportedFile: string | null = null;

  constructor(private onSaved: () => void) {
    byId("add-server").addEventListener("click", () => this.addServer());
    byId("test-all").addEventListener("click", () => void this.testAll());
    byId("save-settings").addEventListener("click", () => void this.save(false));
    byId("save-anyway").addEventListener("click", () => void this.save(true));
    byId("save-cancel").addEventListener("click", () => this.cancelSave());
    byId("import-json").addEventListener("click", () => void this.importJson());
    byId("export-json").addEventListener("click", () => void this.exportJson());
    byId("copy-json").addEventListener("click", () => void this.copyJson());
    byId("save-json").addEventListener("click", () => void this.saveJsonFile());
    byId("show-export").addEventListener("click", () => void this.showExported());
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
    for (const row of this.rows.values()) {
      window.clearTimeout(row.timer);
      row.resolve();
    }
    const previous = this.rows;
    this.rows = new Map();
    const list = byId("server-list");
    list.replaceChildren(...(this.model?.servers ?? []).map((s, i, all) => this.renderServer(s, i, all.length, previous.get(s.entry.id))));
    this.updateSaveState();
  }

  private renderServer(server: EditableServer, index: number, count: number, before?: Row): HTMLElement {
    const item = cloneTemplate("server-template");
    const id = server.entry.id;
    item.dataset.id = id;
    const row: Row = {
      item, server, check: before?.check ?? null, pending: null, resolve: () => {}, timer: undefined, failed: before?.failed ?? null,
      typing: false,
    };
    this.rows.set(id, row);
    const url = item.querySelector<HTMLInputElement>(".server-url")!;
    const user = item.querySelector<HTMLInputElement>(".server-username")!;
    const credential = item.querySelector<HTMLInputElement>(".server-credential")!;
    const kind = item.querySelector<HTMLSelectElement>(".server-credential-type")!;
    const problem = item.querySelector<HTMLElement>(".url-error")!;
    problem.id = `problem-${id}`;
    url.value = server.entry.urls.join(", ");
    url.setAttribute("aria-label", `URLs of server ${index + 1}`);
    url.setAttribute("aria-describedby", problem.id);
    user.value = server.entry.username ?? "";
    kind.value = server.entry.credentialType;
    credential.value = server.newCredential ?? "";
    const edited = () => {
      row.failed = null;
      this.showRow(row);
      this.updateSaveState();
    };
    url.addEventListener("input", () => {
      // Until the backend has read the new URLs the fields stay usable (Tab must not skip them).
      row.typing = true;
      this.scheduleCheck(row, url.value);
      edited();
    });
    user.addEventListener("input", () => {
      server.entry.username = user.value;
      edited();
    });
    credential.addEventListener("input", () => {
      server.newCredential = credential.value;
      edited();
    });
    kind.addEventListener("change", () => {
      server.entry.credentialType = kind.value as typeof server.entry.credentialType;
      edited();
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
    item.querySelector(".test-server")!.addEventListener("click", () => void this.test(row));
    this.showRow(row);
    if (!row.check) this.scheduleCheck(row, url.value, 0);
    return item;
  }

  /** Is this row a TURN server (by the backend's reading, or its saved URLs before that)? */
  private relay(row: Row): boolean {
    return row.check?.relay ?? needsCredential(row.server.entry);
  }

  private kind(row: Row): Kind {
    if (row.typing) return "unknown";
    if (this.relay(row)) return "turn";
    return (row.check?.urls ?? row.server.entry.urls).length ? "stun" : "unknown";
  }

  /** What stops this row from being tested or saved, in words ("" if nothing). */
  private problem(row: Row): string {
    if (row.check?.problems.length) return row.check.problems.join(" ");
    return missingCredentials(row.server, this.kind(row) === "turn") ?? "";
  }

  /** Fields, labels and the problem line as this row's kind and state say. */
  private showRow(row: Row): void {
    const { item, server } = row;
    const rowKind = this.kind(row);
    const relay = rowKind === "turn";
    const stun = rowKind === "stun";
    const user = item.querySelector<HTMLInputElement>(".server-username")!;
    const credential = item.querySelector<HTMLInputElement>(".server-credential")!;
    const kind = item.querySelector<HTMLSelectElement>(".server-credential-type")!;
    const sharedSecret = server.entry.credentialType === "shared-secret";
    item.querySelector(".credential-label")!.textContent = sharedSecret ? "Shared secret" : "Password";
    item.dataset.kind = rowKind;
    const stunReason = "STUN servers take no username or password";
    for (const field of [user, credential, kind]) {
      field.disabled = stun;
      field.required = relay && field !== kind && !(field === user && sharedSecret);
      field.title = stun ? stunReason : "";
    }
    user.placeholder = stun ? "not used by STUN" : !relay ? "for TURN servers" : sharedSecret ? "optional with a shared secret" : "required for TURN";
    credential.placeholder = stun
      ? "not used by STUN"
      : server.entry.hasCredential
        ? "saved (type to replace)"
        : relay ? "required for TURN" : "for TURN servers";
    item.querySelector(".kind-note")!.textContent = relay
      ? "TURN: relays calls; needs its username and password."
      : stun ? "STUN: finds your public address; takes no username or password." : "";
    const urlProblems = !!row.check?.problems.length;
    item.querySelector(".server-url")!.setAttribute("aria-invalid", urlProblems ? "true" : "false");
    const text = this.problem(row);
    item.querySelector(".url-error")!.textContent = text;
    item.dataset.invalid = String(text !== "");
    const test = item.querySelector<HTMLButtonElement>(".test-server")!;
    test.disabled = text !== "";
    test.title = text !== "" ? `Cannot test yet: ${text}` : "Try this server now over each of its transports";
    test.setAttribute("aria-describedby", `problem-${server.entry.id}`);
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

  /** Ask the backend to read the URL box a moment after typing stops. */
  private scheduleCheck(row: Row, text: string, delay = 150): void {
    window.clearTimeout(row.timer);
    row.pending ??= new Promise<void>((resolve) => (row.resolve = resolve));
    row.timer = window.setTimeout(() => void this.check(row, text), delay);
  }

  private async check(row: Row, text: string): Promise<void> {
    let check: UrlsCheck;
    try {
      check = await commands.checkIceUrls(text);
    } catch (e) {
      check = { urls: row.server.entry.urls, problems: [`The URLs could not be checked: ${describeError(e)}`], relay: this.relay(row) };
    }
    // A later keystroke scheduled another check: that one settles the row.
    if (row.item.querySelector<HTMLInputElement>(".server-url")!.value !== text) return;
    row.check = check;
    row.server.entry.urls = check.urls;
    row.typing = false;
    row.pending = null;
    row.resolve();
    this.showRow(row);
    this.updateSaveState();
  }

  /** Wait for every check still to come (typing may have just stopped). */
  private async settled(): Promise<void> {
    await Promise.all([...this.rows.values()].map((r) => r.pending ?? Promise.resolve()));
  }

  private async test(row: Row): Promise<void> {
    const out = row.item.querySelector<HTMLElement>(".test-result")!;
    await (row.pending ?? Promise.resolve());
    const problem = this.problem(row);
    if (problem) {
      out.replaceChildren(el("li", "bad", `Cannot test yet: ${problem}`));
      return;
    }
    out.replaceChildren(el("li", "muted", "testing…"));
    try {
      const results = await commands.testIceServer(row.server.entry, row.server.newCredential);
      out.replaceChildren(...results.map(resultLine));
      const bad = results.find((r) => r.status !== "ok");
      row.failed = bad ? resultLine(bad).textContent : results.length ? null : "no transport could be tested";
    } catch (e) {
      out.replaceChildren(el("li", "bad", describeError(e)));
      row.failed = describeError(e);
    }
  }

  private async testAll(): Promise<void> {
    await this.settled();
    await Promise.all([...this.rows.values()].filter((r) => !this.problem(r)).map((r) => this.test(r)));
  }

  private updateSaveState(): void {
    const anyInvalid = [...this.rows.values()].some((r) => this.problem(r) !== "");
    const save = byId<HTMLButtonElement>("save-settings");
    save.disabled = anyInvalid || !this.model?.dirty;
    if (this.model?.dirty) byId("save-result").textContent = anyInvalid ? "Fix the problems above to save." : "Unsaved changes.";
  }

  /** Save; unless `confirmed`, first ask about servers that failed their last test. */
  private async save(confirmed: boolean): Promise<void> {
    if (!this.model) return;
    const result = byId("save-result");
    await this.settled();
    if ([...this.rows.values()].some((r) => this.problem(r) !== "")) {
      this.updateSaveState();
      return;
    }
    const failed = [...this.rows.values()].filter((r) => r.failed !== null);
    const confirm = byId("save-confirm");
    if (!confirmed && failed.length) {
      byId("save-confirm-title").textContent =
        failed.length === 1 ? "This server failed its last test. Save anyway?" : `${failed.length} servers failed their last test. Save anyway?`;
      byId("save-confirm-list").replaceChildren(
        ...failed.map((r) => el("li", undefined, `${r.server.entry.urls.join(", ")} failed its last test: ${r.failed}`)),
      );
      confirm.hidden = false;
      result.textContent = "Not saved yet: see below.";
      byId("save-cancel").focus();
      return;
    }
    confirm.hidden = true;
    const { settings, credentials } = this.model.toSave();
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

  private cancelSave(): void {
    byId("save-confirm").hidden = true;
    byId("save-result").textContent = "Not saved. Fix or remove the servers that failed, or Test them again.";
    byId("save-settings").focus();
  }

  private async importJson(): Promise<void> {
    const result = byId("import-result");
    const box = byId<HTMLTextAreaElement>("ice-json");
    try {
      const imported = await commands.importIceServers(box.value);
      this.model?.addImported(imported.servers, imported.credentials);
      this.render();
      // The text may hold passwords in the clear: they are in the list now, not left in sight.
      box.value = "";
      result.textContent = `Added ${imported.servers.length} server(s); press Save to keep them.`;
    } catch (e) {
      result.textContent = describeError(e);
    }
    this.showExportButton(null);
  }

  private withCredentials(): boolean {
    return byId<HTMLInputElement>("export-with-credentials").checked;
  }

  private async exportJson(): Promise<void> {
    const result = byId("import-result");
    try {
      byId<HTMLTextAreaElement>("ice-json").value = await commands.exportIceServers(this.withCredentials());
      result.textContent = "The saved servers are in the box above.";
    } catch (e) {
      result.textContent = describeError(e);
    }
    this.showExportButton(null);
  }

  private async copyJson(): Promise<void> {
    const result = byId("import-result");
    try {
      await copyText(await commands.exportIceServers(this.withCredentials()));
      result.textContent = this.withCredentials()
        ? "Copied the saved servers with their passwords."
        : "Copied the saved servers (without passwords).";
    } catch (e) {
      result.textContent = `Could not copy: ${describeError(e)}`;
    }
    this.showExportButton(null);
  }

  private async saveJsonFile(): Promise<void> {
    const result = byId("import-result");
    try {
      const path = await commands.saveIceServersFile(this.withCredentials());
      result.textContent = `Saved to ${path}${this.withCredentials() ? " (with passwords: readable only by you)" : ""}`;
      this.showExportButton(path);
    } catch (e) {
      result.textContent = `Could not save: ${describeError(e)}`;
      this.showExportButton(null);
    }
  }

  private showExportButton(path: string | null): void {
    this.exportedFile = path;
    byId("show-export").hidden = path === null;
  }

  private async showExported(): Promise<void> {
    if (!this.exportedFile) return;
    try {
      await commands.showInFolder(this.exportedFile);
    } catch (e) {
      byId("import-result").textContent = describeError(e);
    }
  }
}

/** Put `text` on the clipboard (the async Clipboard API, else a selection copied). */
export async function copyText(text: string): Promise<void> {
  if (navigator.clipboard?.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch {
      // Not allowed here: fall back to a selection.
    }
  }
  const scratch = document.createElement("textarea");
  scratch.value = text;
  scratch.setAttribute("readonly", "");
  scratch.style.position = "fixed";
  scratch.style.opacity = "0";
  document.body.append(scratch);
  scratch.select();
  const copied = document.execCommand?.("copy") ?? false;
  scratch.remove();
  if (!copied) throw new Error("the clipboard is not available");
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
