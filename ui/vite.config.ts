import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// The UI is loaded from the app bundle (relative paths), never from a dev server in builds.
// Svelte 5 compiles the components away: no framework runtime beyond what they use.
export default defineConfig(({ mode }) => ({
  base: "./",
  plugins: [svelte()],
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
  // Component tests (vitest runs in mode `test`) mount the browser build of Svelte into jsdom.
  resolve: mode === "test" ? { conditions: ["browser"] } : undefined,
  // Panzoom's `main` is a UMD file; inlined, vitest reads its ES module as the bundle does.
  test: { environment: "jsdom", server: { deps: { inline: ["@panzoom/panzoom"] } } },
}));
