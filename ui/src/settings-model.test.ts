import { describe, expect, it } from "vitest";
import { SettingsModel, needsCredential } from "./settings-model";
import type { Settings } from "./bindings";

const base: Settings = {
  displayName: "Me", camera: null, microphone: null, speaker: null, detailedLogs: false,
  servers: [
    { id: "a", urls: ["stun:stun.example.org:3478"], username: null, credentialType: "password", hasCredential: false },
    { id: "b", urls: ["turn:t.example.org:3478"], username: "u", credentialType: "password", hasCredential: true },
  ],
};

describe("SettingsModel", () => {
  it("is clean when loaded and dirty after an edit", () => {
    const m = new SettingsModel(structuredClone(base));
    expect(m.dirty).toBe(false);
    m.find("a")!.entry.urls = ["stun:other.example.org"];
    expect(m.dirty).toBe(true);
  });

  it("reorders, adds and removes", () => {
    const m = new SettingsModel(structuredClone(base));
    m.move("b", -1);
    expect(m.servers.map((s) => s.entry.id)).toEqual(["b", "a"]);
    m.move("b", -1);
    expect(m.servers.map((s) => s.entry.id)).toEqual(["b", "a"]); // the first stays first
    const added = m.add(["turns:x.example.org:5349"], "me");
    m.remove("a");
    expect(m.servers.map((s) => s.entry.id)).toEqual(["b", added.entry.id]);
  });

  it("sends typed credentials separately, never in the settings", () => {
    const m = new SettingsModel(structuredClone(base));
    m.find("b")!.newCredential = "secret!";
    const { settings, credentials } = m.toSave();
    expect(JSON.stringify(settings)).not.toContain("secret!");
    expect(credentials).toEqual([{ id: "b", credential: "secret!" }]);
  });

  it("trims URLs and usernames and drops empty ones on save", () => {
    const m = new SettingsModel(structuredClone(base));
    const s = m.add(["  turn:y.example.org:3478 ", ""], "  ");
    const saved = m.toSave().settings.servers.find((x) => x.id === s.entry.id)!;
    expect(saved.urls).toEqual(["turn:y.example.org:3478"]);
    expect(saved.username).toBeNull();
  });

  it("knows which entries need a credential", () => {
    expect(needsCredential(base.servers[0])).toBe(false);
    expect(needsCredential(base.servers[1])).toBe(true);
  });
});
