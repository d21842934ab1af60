// The device check: camera preview, microphone level meter and a speaker test, shown in the
// pre-join screen (the join dialog) and on the Devices page. One preview stream feeds both: the
// backend opens the chosen devices for it while no call runs (`commands.startPreview`), and a
// running call's own self view and level are the preview otherwise (the camera is the call's).
// The preview runs only while one of the two is on screen; the devices are released after.
import { commands, type CallMessage } from "./bindings";
import { decodeMessage, type DecodedFrame } from "./frames";
import { createRenderer, type TileRenderer } from "./render";
import { showLevel } from "./call";
import { channel, describeError, inApp } from "./tauri";

/** One place that shows the check: a `.device-check` element with a canvas, a `.mic-level`
 *  meter, a `.test-speaker` button and a `.check-status` line. */
export class DeviceCheck {
  private renderer: TileRenderer | null = null;
  private canvas: HTMLCanvasElement;
  private meter: HTMLElement | null;
  private status: HTMLElement | null;
  /** Pictures painted since the page loaded (the tests watch it move). */
  painted = 0;

  constructor(readonly root: HTMLElement) {
    this.canvas = root.querySelector("canvas")!;
    this.meter = root.querySelector(".mic-level");
    this.status = root.querySelector(".check-status");
    root.querySelector(".test-speaker")?.addEventListener("click", () => void this.testSpeaker());
  }

  paint(frame: DecodedFrame): void {
    this.renderer ??= createRenderer(this.canvas);
    this.renderer.paint(frame);
    this.root.classList.add("has-video");
    this.painted += 1;
  }

  level(dbfs: number): void {
    showLevel(this.meter, dbfs);
  }

  say(text: string): void {
    if (this.status) this.status.textContent = text;
  }

  private async testSpeaker(): Promise<void> {
    const button = this.root.querySelector<HTMLButtonElement>(".test-speaker");
    if (button) button.disabled = true;
    this.say("Playing a test tone…");
    try {
      const speaker = await commands.playTestTone();
      this.say(`Played a tone on ${speaker}. Didn't hear it? Pick another speaker or check the volume.`);
    } catch (e) {
      this.say(`No sound: ${describeError(e)}`);
    } finally {
      if (button) button.disabled = false;
    }
  }
}

/** The preview stream behind the checks, on while any of them is visible. */
export class DevicePreview {
  private running = false;
  private fromCall = false;
  private session = 0;

  constructor(private checks: DeviceCheck[]) {
    for (const check of checks) {
      // On screen = the check and its ancestors shown (a dialog opened, a tab chosen).
      const watch = new MutationObserver(() => void this.update());
      for (let e: HTMLElement | null = check.root; e; e = e.parentElement) watch.observe(e, { attributes: true, attributeFilter: ["hidden"] });
    }
    (window as unknown as { natterDebug?: Record<string, unknown> }).natterDebug ??= {};
    (window as unknown as { natterDebug: Record<string, unknown> }).natterDebug.devicePreview = () => ({
      running: this.running,
      fromCall: this.fromCall,
      painted: this.checks.map((c) => c.painted),
      levels: this.checks.map((c) => Number(c.root.querySelector<HTMLElement>(".mic-level")?.dataset.level ?? "0")),
    });
  }

  private visible(): boolean {
    return this.checks.some((c) => {
      for (let e: HTMLElement | null = c.root; e; e = e.parentElement) if (e.hidden) return false;
      return true;
    });
  }

  /** A running call's self-view frame (used while the call owns the devices). */
  callFrame(frame: DecodedFrame): void {
    if (this.running && this.fromCall) for (const c of this.checks) c.paint(frame);
  }

  /** A running call's microphone level. */
  callLevel(dbfs: number): void {
    if (this.running && this.fromCall) for (const c of this.checks) c.level(dbfs);
  }

  /** Start it again (if shown): a call started or ended, or another device was picked. */
  async restart(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.update();
  }

  /** Start or stop the stream as the checks appear or go (also after a call starts or ends). */
  async update(): Promise<void> {
    const want = this.visible();
    if (!inApp() || want === this.running) return;
    this.running = want;
    const mySession = ++this.session;
    if (!want) {
      await commands.stopPreview().catch(() => {});
      return;
    }
    try {
      const source = await commands.startPreview(channel((m: CallMessage | ArrayBuffer) => this.onMessage(mySession, m)));
      if (mySession !== this.session) return;
      this.fromCall = source === "call";
      for (const c of this.checks) c.say(this.fromCall ? "Your camera and microphone as the call uses them." : "");
    } catch (e) {
      for (const c of this.checks) c.say(`The devices cannot be previewed: ${describeError(e)}`);
    }
  }

  private onMessage(mySession: number, message: CallMessage | ArrayBuffer): void {
    if (mySession !== this.session) return;
    if (message instanceof ArrayBuffer) {
      for (const frame of decodeMessage(message)) if (frame.tileId === "local") for (const c of this.checks) c.paint(frame);
      // Acknowledged at once: the preview is small, and the flow control would hold it back.
      commands.framesDrawn(1).catch(() => {});
      return;
    }
    if (message.type === "level" && message.tileId === "local") for (const c of this.checks) c.level(message.dbfs);
    if (message.type === "notice") for (const c of this.checks) c.say(message.message);
  }
}
