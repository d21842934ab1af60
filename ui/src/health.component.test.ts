// The health panel's timeline ("What happened") takes the call view's notes: who came and went.
import { beforeEach, describe, expect, it } from "vitest";
import html from "../index.html?raw";
import { HealthPanel } from "./health";

describe("health timeline", () => {
  beforeEach(() => {
    document.body.innerHTML = html.slice(html.indexOf("<body>") + 6, html.indexOf("</body>")).replace(/<script[^>]*><\/script>/g, "");
    delete (window as unknown as { __TAURI__?: unknown }).__TAURI__;
  });

  it("lists notes newest first, and keeps them when a call starts", () => {
    const panel = new HealthPanel();
    panel.note("Bob joined the call", "ok");
    panel.note("Bob left the call", "bad");
    panel.callStarted();
    const items = [...document.querySelectorAll("#timeline li")];
    expect(items.map((li) => li.querySelector("span")!.textContent)).toEqual(["Bob left the call", "Bob joined the call"]);
    expect(items[0].className).toBe("event bad");
  });
});
