// A panel shown over the page as a modal dialog while it is not `hidden`: whoever opens or closes
// it only toggles `hidden` (call.ts does for the join dialog); this module makes everything else
// inert (no clicks, no focus: the focus stays in the dialog, Tab wraps around), closes it on Esc,
// and gives the focus back to where it was when it closes. The backdrop is the CSS's.

const FOCUSABLE = "button, [href], input, select, textarea, [tabindex]:not([tabindex='-1'])";

export class Modal {
  /** Elements this modal made inert (given back when it closes). */
  private madeInert: HTMLElement[] = [];
  private returnFocus: HTMLElement | null = null;
  private open = false;

  constructor(readonly panel: HTMLElement) {
    new MutationObserver(() => this.sync()).observe(panel, { attributes: true, attributeFilter: ["hidden"] });
    document.addEventListener("keydown", (e) => this.onKey(e));
    // Remember the focus as it is when the panel opens (before its opener moves it inside).
    document.addEventListener("focusin", (e) => {
      if (!this.open && e.target instanceof HTMLElement && !panel.contains(e.target)) this.returnFocus = e.target;
    });
    this.sync();
  }

  get isOpen(): boolean {
    return this.open;
  }

  private sync(): void {
    const visible = !this.panel.hidden;
    if (visible === this.open) return;
    this.open = visible;
    if (visible) this.onOpen();
    else this.onClose();
  }

  private onOpen(): void {
    // Everything but the panel and its ancestors: the siblings of each, up to <body>.
    for (let node: HTMLElement | null = this.panel; node && node !== document.body; node = node.parentElement) {
      for (const sibling of node.parentElement?.children ?? []) {
        if (sibling === node || !(sibling instanceof HTMLElement) || sibling.inert || sibling.tagName === "SCRIPT" || sibling.tagName === "TEMPLATE") continue;
        sibling.inert = true;
        sibling.setAttribute("inert", "");
        this.madeInert.push(sibling);
      }
    }
    if (!this.panel.contains(document.activeElement)) this.focusables()[0]?.focus();
  }

  private onClose(): void {
    for (const el of this.madeInert) {
      el.inert = false;
      el.removeAttribute("inert");
    }
    this.madeInert = [];
    // Whoever closed it may have put the focus somewhere on purpose; otherwise back to the opener.
    const active = document.activeElement;
    const lost = !active || active === document.body || this.panel.contains(active);
    const back = this.returnFocus;
    if (lost && back?.isConnected && !(back as HTMLButtonElement).disabled) back.focus();
  }

  private focusables(): HTMLElement[] {
    return [...this.panel.querySelectorAll<HTMLElement>(FOCUSABLE)].filter(
      (el) => !(el as HTMLButtonElement).disabled && !el.hidden && el.closest("[hidden]") === null,
    );
  }

  private onKey(e: KeyboardEvent): void {
    if (!this.open) return;
    if (e.key === "Escape") {
      e.preventDefault();
      this.panel.hidden = true;
      this.sync();
      return;
    }
    if (e.key !== "Tab") return;
    const all = this.focusables();
    if (!all.length) return;
    const first = all[0];
    const last = all[all.length - 1];
    const active = document.activeElement;
    if (!this.panel.contains(active)) {
      e.preventDefault();
      (e.shiftKey ? last : first).focus();
    } else if (e.shiftKey && active === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && active === last) {
      e.preventDefault();
      first.focus();
    }
  }
}
