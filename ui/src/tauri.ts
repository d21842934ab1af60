// The only door to the Rust backend: typed `invoke` wrappers over `window.__TAURI__` (the app sets
// `withGlobalTauri`). Errors from commands arrive as `{ code, message }` (bindings.ts `UiError`).
import type {
  CallInfo, JoinRequest, CredentialUpdate, Devices, ImportedServers, ServerEntry, ServerHealth, Settings,
  SettingsView, UiError, HealthTransition, LogsInfo,
} from "./bindings";

export type DeviceKind = "camera" | "microphone" | "speaker";

interface TauriChannel<T> { onmessage: (message: T) => void }
interface TauriGlobal {
  core: {
    invoke<T>(command: string, args?: Record<string, unknown>): Promise<T>;
    Channel: new <T>() => TauriChannel<T>;
  };
}

declare global {
  interface Window { __TAURI__?: TauriGlobal }
}

export function tauri(): TauriGlobal {
  const t = window.__TAURI__;
  if (!t || !t.core) throw { code: "no_backend", message: "This page must run inside the Natter app." } satisfies UiError;
  return t;
}

export function inApp(): boolean {
  return !!(window.__TAURI__ && window.__TAURI__.core);
}

/** A sentence for any error a command (or anything else) threw. */
export function describeError(e: unknown): string {
  if (e && typeof e === "object" && "message" in e) return String((e as UiError).message);
  return String(e);
}

export function channel<T>(onMessage: (message: T) => void): TauriChannel<T> {
  const c = new (tauri().core.Channel)<T>();
  c.onmessage = onMessage;
  return c;
}

const invoke = <T>(command: string, args?: Record<string, unknown>) => tauri().core.invoke<T>(command, args);

export const api = {
  startCall: (onEvent: TauriChannel<unknown>, join: JoinRequest | null) => invoke<CallInfo>("start_call", { onEvent, join }),
  leaveCall: () => invoke<void>("leave_call"),
  setMuted: (kind: "audio" | "video", muted: boolean) => invoke<void>("set_muted", { kind, muted }),
  framesDrawn: (count: number) => invoke<void>("frames_drawn", { count }),
  getSettings: () => invoke<SettingsView>("get_settings"),
  saveSettings: (settings: Settings, credentials: CredentialUpdate[]) => invoke<Settings>("save_settings", { settings, credentials }),
  checkIceUrl: (url: string) => invoke<string | null>("check_ice_url", { url }),
  testIceServer: (server: ServerEntry, credential: string | null) => invoke<ServerHealth[]>("test_ice_server", { server, credential }),
  importIceServers: (json: string) => invoke<ImportedServers>("import_ice_servers", { json }),
  exportIceServers: (withCredentials: boolean) => invoke<string>("export_ice_servers", { withCredentials }),
  watchIceHealth: (onEvent: TauriChannel<HealthTransition>) => invoke<void>("watch_ice_health", { onEvent }),
  iceHealthSnapshot: () => invoke<ServerHealth[]>("ice_health_snapshot"),
  listDevices: () => invoke<Devices>("list_devices"),
  watchDevices: (onChange: TauriChannel<Devices>) => invoke<void>("watch_devices", { onChange }),
  chooseDevice: (kind: DeviceKind, id: string) => invoke<void>("choose_device", { kind, id }),
  exportDiagnostics: () => invoke<string>("export_diagnostics"),
  logsInfo: () => invoke<LogsInfo>("logs_info"),
  setDetailedLogs: (on: boolean) => invoke<LogsInfo>("set_detailed_logs", { on }),
};
