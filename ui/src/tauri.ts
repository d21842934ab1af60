// The only door to the Rust backend: `window.__TAURI__` (the app sets `withGlobalTauri`), used by
// the generated, typed `commands` in bindings.ts. Errors from commands arrive as an `AppError`
// (`{ code, message }`).
import type { AppError } from "./bindings";

/** A channel the backend sends messages of type `T` on. */
export interface Channel<T> { onmessage: (message: T) => void }
interface TauriGlobal {
  core: {
    invoke<T>(command: string, args?: Record<string, unknown>): Promise<T>;
    Channel: new <T>() => Channel<T>;
  };
}

declare global {
  interface Window { __TAURI__?: TauriGlobal }
}

export function tauri(): TauriGlobal {
  const t = window.__TAURI__;
  if (!t || !t.core) throw { code: "noBackend", message: "This page must run inside the Natter app." } satisfies AppError;
  return t;
}

export function inApp(): boolean {
  return !!(window.__TAURI__ && window.__TAURI__.core);
}

/** A sentence for any error a command (or anything else) threw. */
export function describeError(e: unknown): string {
  if (e && typeof e === "object" && "message" in e) return String((e as AppError).message);
  return String(e);
}

export function channel<T>(onMessage: (message: T) => void): Channel<T> {
  const c = new (tauri().core.Channel)<T>();
  c.onmessage = onMessage;
  return c;
}

/** For bindings.ts's `commands` only: everything else calls those. */
export const invoke = <T>(command: string, args?: Record<string, unknown>): Promise<T> => tauri().core.invoke<T>(command, args);
