// The settings page's editing state, without the DOM: the list of servers being edited, typed
// credentials not yet saved, and what to send on Save. Tested in settings-model.test.ts.
import type { CredentialType, CredentialUpdate, ServerEntry, Settings } from "./bindings";

export interface EditableServer {
  entry: ServerEntry;
  /** A credential typed since the last save (`null`: keep the stored one). */
  newCredential: string | null;
}

let counter = 0;
/** An id for a server created in the page (the backend keeps whatever id it is given). */
export function freshId(): string {
  counter += 1;
  return `s${Date.now().toString(36)}${counter.toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

export class SettingsModel {
  servers: EditableServer[];
  private saved: string;

  constructor(public settings: Settings) {
    this.servers = settings.servers.map((entry) => ({ entry: { ...entry, urls: [...entry.urls] }, newCredential: null }));
    this.saved = this.fingerprint();
  }

  private fingerprint(): string {
    return JSON.stringify(this.servers);
  }

  /** Something changed since the last load/save. */
  get dirty(): boolean {
    return this.fingerprint() !== this.saved;
  }

  add(urls: string[] = [""], username: string | null = null, credentialType: CredentialType = "password"): EditableServer {
    const server = { entry: { id: freshId(), urls, username, credentialType, hasCredential: false }, newCredential: null };
    this.servers.push(server);
    return server;
  }

  remove(id: string): void {
    this.servers = this.servers.filter((s) => s.entry.id !== id);
  }

  /** Move a server up (-1) or down (+1); order is the order connections try them. */
  move(id: string, delta: -1 | 1): void {
    const i = this.servers.findIndex((s) => s.entry.id === id);
    const j = i + delta;
    if (i < 0 || j < 0 || j >= this.servers.length) return;
    [this.servers[i], this.servers[j]] = [this.servers[j], this.servers[i]];
  }

  find(id: string): EditableServer | undefined {
    return this.servers.find((s) => s.entry.id === id);
  }

  /** Add servers read from an import (their credentials count as newly typed). */
  addImported(servers: ServerEntry[], credentials: CredentialUpdate[]): void {
    for (const entry of servers) {
      const credential = credentials.find((c) => c.id === entry.id)?.credential ?? null;
      this.servers.push({ entry: { ...entry, hasCredential: false }, newCredential: credential });
    }
  }

  /** What `save_settings` takes: the settings (no credentials) and the credential changes. */
  toSave(): { settings: Settings; credentials: CredentialUpdate[] } {
    const servers = this.servers.map((s) => ({
      ...s.entry,
      urls: s.entry.urls.map((u) => u.trim()).filter((u) => u.length > 0),
      username: s.entry.username && s.entry.username.trim() ? s.entry.username.trim() : null,
    }));
    const credentials = this.servers
      .filter((s) => s.newCredential !== null)
      .map((s) => ({ id: s.entry.id, credential: s.newCredential }));
    return { settings: { ...this.settings, servers }, credentials };
  }

  /** After a successful save: the backend's view becomes the new baseline. */
  saved_as(settings: Settings): void {
    this.settings = settings;
    this.servers = settings.servers.map((entry) => ({ entry: { ...entry, urls: [...entry.urls] }, newCredential: null }));
    this.saved = this.fingerprint();
  }
}

/** Does this entry need a credential (it has a turn:/turns: URL)? */
export function needsCredential(entry: ServerEntry): boolean {
  return entry.urls.some((u) => /^turns?:/i.test(u.trim()));
}
