// Builds ui/src into ui/dist, which the Tauri window loads (tauri.conf.json `frontendDist`).
// `npm test` runs the Vitest unit/component tests (happy-dom as the DOM).
import { defineConfig } from "vitest/config";

export default defineConfig({
  root: ".",
  base: "./",
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", sourcemap: false },
  test: { environment: "happy-dom", include: ["src/**/*.test.ts"] },
});
