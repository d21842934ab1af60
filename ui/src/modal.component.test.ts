// The join dialog as a modal (modal.ts) in the page's real markup: the rest of the page inert
// while it is open, Tab kept inside, Esc closes it and the focus goes back.
import { beforeEach, describe, expect, it } from "vitest";
import html from "../index.html?raw";
import { Modal } from "./modal";

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

function tab(shift = false): void {
  document.activeElement!.dispatchEvent(new KeyboardEvent("keydown", { key: "Tab", shiftKey: shift, bubbles: true, cancelable: true }));
}

describe("join dialog modal", () => {
  beforeEach(() => {
    document.body.innerHTML = html.slice(html.indexOf("<body>") + 6, html.indexOf("</body>")).replace(/<script[^>]*><\/script>/g, "");
  });

  it("makes the rest inert, traps the focus and closes on Esc", async () => {
    const panel = document.getElementById("join-panel")!;
    const modal = new Modal(panel);
    const opener = document.getElementById("open-join")!;
    opener.focus();
    panel.hidden = false;
    await tick();
    expect(modal.isOpen).toBe(true);
    // Focus moved into the dialog; the header, the tiles and the control bar are inert.
    expect(panel.contains(document.activeElement)).toBe(true);
    for (const id of ["stage", "error"]) expect(document.getElementById(id)!.hasAttribute("inert"), id).toBe(true);
    expect(document.querySelector(".controls")!.hasAttribute("inert")).toBe(true);
    expect(document.querySelector("header.bar")!.hasAttribute("inert")).toBe(true);
    expect(panel.hasAttribute("inert")).toBe(false);

    // Tab from the last control wraps to the first, Shift+Tab from the first to the last.
    const buttons = [...panel.querySelectorAll<HTMLElement>("input, button")];
    buttons.at(-1)!.focus();
    tab();
    expect(document.activeElement).toBe(buttons[0]);
    tab(true);
    expect(document.activeElement).toBe(buttons.at(-1));

    // Esc (wherever the focus is) closes it; the page is usable again, the focus back on the opener.
    document.body.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true, cancelable: true }));
    await tick();
    expect(panel.hidden).toBe(true);
    expect(modal.isOpen).toBe(false);
    expect(document.querySelectorAll("[inert]").length).toBe(0);
    expect(document.activeElement).toBe(opener);
  });
});
