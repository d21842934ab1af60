// Keyboard shortcuts: each presses a button of the page (so a shortcut does exactly what the click
// does, and nothing when the button is disabled). Shown in the buttons' tooltips (`title`) and
// announced through `aria-keyshortcuts`. Ignored while typing in a text field, a list or an
// editable area (the keys are the field's there). Ctrl on Linux and Windows, ⌘ on macOS.

export interface Shortcut {
  /** The button it presses. */
  button: string;
  /** What it does, for the tooltip. */
  what: string;
  /** `KeyboardEvent.code` of the key (layout-independent for letters and digits). */
  code: string;
  shift: boolean;
}

export const SHORTCUTS: readonly Shortcut[] = [
  { button: "mute", what: "Microphone off or on", code: "KeyD", shift: false },
  { button: "camera", what: "Camera off or on", code: "KeyE", shift: false },
  { button: "leave", what: "Leave the call", code: "KeyH", shift: true },
  { button: "nav-call", what: "Call", code: "Digit1", shift: false },
  { button: "nav-health", what: "Connection health", code: "Digit2", shift: false },
  { button: "nav-settings", what: "ICE servers", code: "Digit3", shift: false },
  { button: "nav-devices", what: "Devices", code: "Digit4", shift: false },
];

const isMac = (): boolean => /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);

/** "Ctrl+Shift+H" (or "⌘⇧H" on macOS), for people. */
export function label(s: Shortcut): string {
  const key = s.code.replace(/^(Key|Digit)/, "");
  return isMac() ? `⌘${s.shift ? "⇧" : ""}${key}` : `Ctrl+${s.shift ? "Shift+" : ""}${key}`;
}

/** "Control+Shift+H" (`aria-keyshortcuts` syntax). */
export function ariaKeys(s: Shortcut): string {
  const key = s.code.replace(/^(Key|Digit)/, "");
  return `${isMac() ? "Meta" : "Control"}+${s.shift ? "Shift+" : ""}${key}`;
}

/** Is the user typing where these keys mean text (or a choice in a list)? */
export function typingIn(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  if (target instanceof HTMLInputElement) return !["button", "checkbox", "radio", "range", "color", "file", "submit", "reset"].includes(target.type);
  return false;
}

/** The shortcut this key press is, if any. */
export function shortcutFor(e: KeyboardEvent): Shortcut | undefined {
  const primary = isMac() ? e.metaKey && !e.ctrlKey : e.ctrlKey && !e.metaKey;
  if (!primary || e.altKey) return undefined;
  return SHORTCUTS.find((s) => s.code === e.code && s.shift === e.shiftKey);
}

/** Label the buttons and listen on `root`; returns what removes the listener. */
export function installShortcuts(root: Document = document): () => void {
  for (const s of SHORTCUTS) {
    const button = root.getElementById(s.button);
    if (!button) continue;
    button.title = `${s.what} (${label(s)})`;
    button.setAttribute("aria-keyshortcuts", ariaKeys(s));
  }
  const onKey = (e: KeyboardEvent) => {
    const s = shortcutFor(e);
    if (!s || typingIn(e.target)) return;
    const button = root.getElementById(s.button);
    if (!(button instanceof HTMLButtonElement)) return;
    // The browser's own meaning (bookmark, search, …) never applies in the app.
    e.preventDefault();
    if (!button.disabled) button.click();
  };
  root.addEventListener("keydown", onKey);
  return () => root.removeEventListener("keydown", onKey);
}
