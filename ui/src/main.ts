// Natter's window: tabs (call, connection health, ICE servers, devices), wired to the views, and
// the keyboard shortcuts.
import "./style.css";
import { CallView } from "./call";
import { HealthPanel } from "./health";
import { SettingsPage } from "./settings";
import { loadDevices } from "./devices";
import { GridFitter } from "./grid";
import { Modal } from "./modal";
import { byId } from "./dom";
import { DeviceCheck, DevicePreview } from "./device-check";
import { installShortcuts } from "./shortcuts";

const PAGES = ["call", "health", "settings", "devices"] as const;
type Page = (typeof PAGES)[number];

function show(page: Page): void {
  for (const p of PAGES) {
    const tab = byId(`nav-${p}`);
    const selected = p === page;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    byId(`page-${p}`).hidden = !selected;
  }
}

// Tabs: click, or arrow keys between them (WAI-ARIA tabs pattern).
PAGES.forEach((page, i) => {
  const tab = byId(`nav-${page}`);
  tab.addEventListener("click", () => show(page));
  tab.addEventListener("keydown", (e) => {
    const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
    if (!step) return;
    const next = PAGES[(i + step + PAGES.length) % PAGES.length];
    show(next);
    byId(`nav-${next}`).focus();
  });
});

const health = new HealthPanel();
const preview = new DevicePreview([new DeviceCheck(byId("join-check")), new DeviceCheck(byId("devices-check"))]);
const settings = new SettingsPage(() => void health.watch());
const call = new CallView({
  onStats: (atMs, report) => health.onStats(atMs, report),
  qualityOf: (remote) => health.quality(remote),
  onOpenDetails: (remote) => {
    show("health");
    health.focus(remote);
  },
  onCallStarted: (info) => {
    // The call has the devices now: the preview shows its self view instead.
    void preview.restart();
    health.callStarted();
    health.addTimelineEntry(Date.now(), "info", info.mode === "room" ? `You joined room ${info.room}` : `You started the ${info.room} call`);
  },
  onPresence: (change, text) => health.addTimelineEntry(Date.now(), change === "joined" ? "joined" : "left", text),
  onPainting: (tiles) => health.onPainting(tiles),
  onLocalFrame: (frame) => preview.callFrame(frame),
  onLevel: (tileId, dbfs) => {
    if (tileId === "local") preview.callLevel(dbfs);
  },
});

// The grid fits the window whatever the number of tiles; the join dialog is a modal over the call.
const grid = new GridFitter(byId("stage"), byId("grid"), document.querySelector<HTMLElement>("#page-call .controls"), [byId("device-notice")]);
const joinDialog = new Modal(byId("join-panel"));
(window as unknown as { natterLayout: unknown }).natterLayout = { grid, joinDialog };

show("call");
// Ctrl+D microphone, Ctrl+E camera, Ctrl+Shift+H leave, Ctrl+1…4 tabs (shortcuts.ts).
installShortcuts();
void call.start();
void health.watch();
void settings.load();
// A new device: the preview opens it (while no call holds the devices).
void loadDevices(() => void preview.restart());
