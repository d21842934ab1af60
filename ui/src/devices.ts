// Device pickers, fed by the backend (which says when sources are synthetic).
import type { Device } from "./bindings";
import { api, describeError, inApp } from "./tauri";
import { byId, el } from "./dom";

export async function loadDevices(): Promise<void> {
  if (!inApp()) return;
  try {
    const devices = await api.listDevices();
    fill("camera-select", devices.cameras);
    fill("microphone-select", devices.microphones);
    fill("speaker-select", devices.speakers);
    byId("devices-note").textContent = devices.note;
  } catch (e) {
    byId("devices-note").textContent = `Cannot list devices: ${describeError(e)}`;
  }
}

function fill(id: string, devices: Device[]): void {
  byId(id).replaceChildren(...devices.map((d) => {
    const option = el("option", "", d.label);
    option.value = d.id;
    return option;
  }));
}
