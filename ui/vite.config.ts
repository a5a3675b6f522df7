import { defineConfig } from "vite";

// The UI is loaded from the app bundle (relative paths), never from a dev server in builds.
export default defineConfig({
  base: "./",
  build: { outDir: "dist", emptyOutDir: true, target: "es2021" },
  test: { environment: "jsdom" },
});
