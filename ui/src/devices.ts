// Device pickers, fed by the backend: the lists follow devices plugged in or out (the backend
// watches them), a pick is saved and applied to the running call at once.
import { commands, type Device, type DeviceKind, type Devices } from "./bindings";
import { channel, describeError, inApp } from "./tauri";
import { byId, el } from "./dom";

/** The pickers: on the Devices page and in the pre-join screen (the same choice). */
const PICKERS: [DeviceKind, string][] = [
  ["camera", "camera-select"],
  ["microphone", "microphone-select"],
  ["speaker", "speaker-select"],
  ["camera", "join-camera-select"],
  ["microphone", "join-microphone-select"],
  ["speaker", "join-speaker-select"],
];

let onChosen: ((kind: DeviceKind) => void) | undefined;

export async function loadDevices(chosen?: (kind: DeviceKind) => void): Promise<void> {
  onChosen = chosen;
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
  for (const prefix of ["", "join-"]) {
    fill(`${prefix}camera-select`, devices.cameras, devices.camera);
    fill(`${prefix}microphone-select`, devices.microphones, devices.microphone);
    fill(`${prefix}speaker-select`, devices.speakers, devices.speaker);
  }
  byId("devices-note").textContent = devices.note;
}

async function choose(kind: DeviceKind, id: string): Promise<void> {
  const status = byId("devices-status");
  try {
    await commands.chooseDevice(kind, id);
    // Both sets of pickers say the same; the preview shows the new device.
    for (const [k, picker] of PICKERS) if (k === kind) byId<HTMLSelectElement>(picker).value = id;
    onChosen?.(kind);
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
