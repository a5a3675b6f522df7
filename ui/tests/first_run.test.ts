import { afterEach, describe, expect, it } from "vitest";
import { flushSync, mount, unmount } from "svelte";
import FirstRun from "../src/start/FirstRun.svelte";
import { dismissGuide, shouldGuide, type FirstRunBackend } from "../src/start/first_run";
import type { ModelState } from "../src/bindings";

const settle = () => new Promise((r) => setTimeout(r, 0));

describe("when the guide opens", () => {
  it("only on a data folder with no photo and no render, until finished or skipped there", () => {
    localStorage.clear();
    expect(shouldGuide(localStorage, "/d", 0, 0)).toBe(true);
    expect(shouldGuide(localStorage, "/d", 1, 0)).toBe(false);
    expect(shouldGuide(localStorage, "/d", 0, 3)).toBe(false);
    dismissGuide(localStorage, "/d");
    expect(shouldGuide(localStorage, "/d", 0, 0)).toBe(false);
    expect(shouldGuide(localStorage, "/other", 0, 0)).toBe(true);
  });
});

class Studio implements FirstRunBackend {
  installed = false;
  listeners: ((line: string, done: boolean, failed: boolean) => void)[] = [];
  async models(): Promise<ModelState[]> {
    return [{ id: "m", name: "person matte", licence: "MIT", default: true, state: this.installed ? "installed" : "missing" }];
  }
  async fetchModels() {
    setTimeout(() => {
      this.listeners.forEach((l) => l("person matte: 12 MB", false, false));
      this.installed = true;
      this.listeners.forEach((l) => l("every default model is installed", true, false));
    }, 0);
  }
  async onProgress(l: (line: string, done: boolean, failed: boolean) => void) { this.listeners.push(l); return () => { this.listeners = this.listeners.filter((x) => x !== l); }; }
  async importSamples() {
    return [{ path: "astronaut.png", upload: { upload_key: "uploads/A/astronaut.png", image_url: "http://127.0.0.1:1/a.png", mime: "image/png", width: 512, height: 512, bytes: 1, sha256: "" }, error: null }];
  }
}

describe("the first-run guide", () => {
  let view: Record<string, unknown> | null = null;
  afterEach(() => { if (view) unmount(view); view = null; document.body.innerHTML = ""; });

  it("fetches the models with progress, imports the samples, then runs a background swap on the first", async () => {
    const studio = new Studio();
    const runs: unknown[] = [];
    let done = false;
    view = mount(FirstRun, { target: document.body, props: { backend: studio, run: (_p: HTMLElement, w: string, b: unknown) => runs.push([w, b]), onDone: () => (done = true) } });
    await settle(); flushSync();
    const swap = () => document.querySelector<HTMLButtonElement>("[data-testid=start-swap]")!;
    expect(swap().disabled).toBe(true);
    document.querySelector<HTMLButtonElement>("[data-testid=start-fetch]")!.click();
    await settle(); await settle(); await settle(); flushSync();
    expect(document.querySelector("[data-testid=start-models] pre")!.textContent).toContain("person matte: 12 MB");
    expect(document.querySelector("[data-testid=start-models-ready]")).not.toBeNull();
    document.querySelector<HTMLButtonElement>("[data-testid=start-import]")!.click();
    await settle(); flushSync();
    expect(swap().disabled).toBe(false);
    swap().click();
    expect(runs).toEqual([["background-swap-with-spec", { source_image_s3_key: "uploads/A/astronaut.png", scene_type: "studio_sweep", mood: "soft", output_preset: "original" }]]);
    flushSync();
    document.querySelector<HTMLButtonElement>("[data-testid=start-done]")!.click();
    expect(done).toBe(true);
  });
});
