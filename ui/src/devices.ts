// Device pickers, fed by the backend: the lists follow devices plugged in or out (the backend
// watches them), a pick is saved and applied to the running call at once.
import { commands, type Device, type DeviceKind, type Devices } from "./bindings";
import { channel, describeError, inApp } from "./tauri";
import { byId, el } from "./dom";

const PICKERS: [DeviceKind, string][] = [["camera", "camera-select"], ["microphone", "microphone-select"], ["speaker", "speaker-select"]];

export async function loadDevices(): Promise<void> {
  if (!inApp()) return;
  for (const [kind, id] of PICKERS) {
    const select = byId<HTMLSelectElement>(id);
    select.addEventListener("change", () => void choose(kind, select.value));
  }
  try {
    await commands.watchDevices(channel<Devices>(show));
  } catch (e) {
    byId("devices-note").textContent = `Cannot list devices: ${describeError(e)}`;
  }
}

/** The lists as they are now (again after every hot-plug). */
export function show(devices: Devices): void {
  fill("camera-select", devices.cameras, devices.camera);
  fill("microphone-select", devices.microphones, devices.microphone);
  fill("speaker-select", devices.speakers, devices.speaker);
  byId("devices-note").textContent = devices.note;
}

async function choose(kind: DeviceKind, id: string): Promise<void> {
  const status = byId("devices-status");
  try {
    await commands.chooseDevice(kind, id);
    status.textContent = `Saved: the ${kind} is used from now on (also in the call in progress).`;
  } catch (e) {
    status.textContent = `Could not use that ${kind}: ${describeError(e)}`;
  }
}

function fill(id: string, devices: Device[], chosen: string): void {
  const select = byId<HTMLSelectElement>(id);
  const options = devices.map((d) => {
    const option = el("option", "", d.label);
    option.value = d.id;
    return option;
  });
  // A saved device that is unplugged stays visible, marked, so the choice is not silently lost.
  if (!devices.some((d) => d.id === chosen)) {
    const missing = el("option", "", `${chosen} (not connected)`);
    missing.value = chosen;
    options.push(missing);
  }
  select.replaceChildren(...options);
  select.value = chosen;
}
