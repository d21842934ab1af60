// The "What happened" timeline of the health panel in the page's real markup.
import { beforeEach, describe, expect, it } from "vitest";
import html from "../index.html?raw";
import { HealthPanel, addTimelineEntry } from "./health";

describe("timeline", () => {
  beforeEach(() => {
    document.body.innerHTML = html.slice(html.indexOf("<body>") + 6, html.indexOf("</body>")).replace(/<script[^>]*><\/script>/g, "");
    delete (window as unknown as { __TAURI__?: unknown }).__TAURI__;
  });

  it("lists entries newest first, in local time with a readable kind", () => {
    new HealthPanel();
    expect(document.getElementById("timeline-empty")!.hidden).toBe(false);
    const now = Date.now();
    addTimelineEntry(now - 2000, "joined", "Ann joined");
    addTimelineEntry(now, "left", "Ann left", "left:ann");
    addTimelineEntry(now, "left", "Ann left", "left:ann"); // the same key once
    addTimelineEntry(now - 3 * 86_400_000, "server-bad", "turn:a (UDP) stopped working");
    const items = [...document.querySelectorAll("#timeline li")];
    expect(items.map((li) => li.querySelector(".text")!.textContent)).toEqual(["Ann left", "Ann joined", "turn:a (UDP) stopped working"]);
    expect(items.map((li) => li.querySelector(".kind")!.textContent)).toEqual(["Left", "Joined", "Server problem"]);
    expect(items[0].querySelector("time")!.textContent).toMatch(/^\d\d:\d\d:\d\d$/);
    // Not today: the date is shown too.
    expect(items[2].querySelector("time")!.textContent).toMatch(/^\d{1,2} [A-Z][a-z]{2}( \d{4})? \d\d:\d\d:\d\d$/);
    expect(document.getElementById("timeline")!.classList.contains("with-dates")).toBe(true);
    expect(document.getElementById("timeline-empty")!.hidden).toBe(true);
  });

  it("keeps who came and went when the next call starts", () => {
    const panel = new HealthPanel();
    addTimelineEntry(Date.now() - 1000, "joined", "Bob joined the call");
    addTimelineEntry(Date.now(), "left", "Bob left the call");
    panel.callStarted();
    const items = [...document.querySelectorAll("#timeline li")];
    expect(items.map((li) => li.querySelector(".text")!.textContent)).toEqual(["Bob left the call", "Bob joined the call"]);
  });

  it("says the saved servers are being checked until their first result, and none only when none", async () => {
    const backend = (servers: number) => ({
      core: {
        Channel: class { onmessage = (_: unknown) => {}; },
        invoke: async (command: string) => {
          if (command === "get_settings") return { settings: { servers: Array(servers).fill({ urls: "stun:x" }) } };
          return null;
        },
      },
    });
    (window as unknown as { __TAURI__: unknown }).__TAURI__ = backend(2);
    await new HealthPanel().watch();
    const empty = document.getElementById("server-health-empty")!;
    expect(empty.hidden).toBe(false);
    expect(empty.textContent).toBe("Checking 2 ICE servers…");
    (window as unknown as { __TAURI__: unknown }).__TAURI__ = backend(0);
    await new HealthPanel().watch();
    expect(empty.textContent).toContain("No ICE servers configured");
  });
});
