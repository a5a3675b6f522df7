import { afterEach, describe, expect, it } from "vitest";
import { flushSync, mount, unmount } from "svelte";
import RenderView from "../src/gallery/RenderView.svelte";
import { inputImages, sourceUrl, upscaleRefusal, type Render, type RenderBackend } from "../src/gallery/render_info";
import { Variations } from "../src/gallery/variations.svelte";
import type { JobDetail_Serialize } from "../src/bindings";

// jsdom has no layout, no ResizeObserver and no constructable stylesheets (the before/after
// slider, a web component, styles its shadow root with one); WebKit has all three.
globalThis.ResizeObserver ??= class { observe() {} unobserve() {} disconnect() {} };
(CSSStyleSheet.prototype as unknown as { replaceSync?: () => void }).replaceSync ??= () => {};

const render: Render = {
  public_id: "01JRENDER", job_type: "BACKGROUND_SWAP_WITH_SPEC", origin: "edit", category: null,
  image_url: "http://127.0.0.1:1/r.png?sig=x", meta: { width: 512, height: 512, mime: "image/png", sha256: "" },
  inputs: { source_image_url: "http://127.0.0.1:1/src.png?sig=y", scene_type: "paper", items: [{ trial_image_url: "http://127.0.0.1:1/g.png" }] },
  created_at: "2026-12-02T00:00:00Z",
};

function detail(id: string, status: "IN_PROGRESS" | "SUCCESS" | "FAILURE"): JobDetail_Serialize {
  return {
    public_id: id, job_type: render.job_type, status, created_at: "", started_at: null, finished_at: null, credits_cost: 1, request: {},
    priority: 0, paused: false,
    result: status === "SUCCESS" ? [{ image_url: `http://127.0.0.1:1/${id}.png`, kind: "render", role: "final", label: "", meta: render.meta }] : [],
    latest_event: { seq: 3, event_type: status === "FAILURE" ? "failed" : "stage", visibility: "public", stage: "composite", message: status === "FAILURE" ? "the disk is full" : "", artifacts: [], extra: {}, created_at: "" },
  };
}

class Engine implements RenderBackend {
  states = new Map<string, "IN_PROGRESS" | "SUCCESS" | "FAILURE">();
  calls: string[] = [];
  async renders() { return { renders: [render], limit: 500, offset: 0, count: 1 }; }
  async exportRender(id: string, f: string) { this.calls.push(`export ${id} ${f}`); return `/home/me/Pictures/Figur Studio/${id}.${f}`; }
  async useAsInput(id: string) { this.calls.push(`use ${id}`); return { upload_key: `uploads/X/render-${id}.png`, image_url: "", mime: "image/png", width: 1, height: 1, bytes: 1, sha256: "" }; }
  async provenance() { return { models: [{ kind: "person_matte" }] }; }
  async onJobChanged() { return () => {}; }
  async vary(_id: string, count: number) {
    return Array.from({ length: count }, (_, i) => {
      const id = `01JVAR${i}`;
      this.states.set(id, "IN_PROGRESS");
      return { request_id: "r", job_id: id, status: "NOT_STARTED" as const, credits_cost: 1 };
    });
  }
  async upscale(id: string, scale: number) {
    this.calls.push(`upscale ${id} ×${scale}`);
    this.states.set("01JUPSCALE", "IN_PROGRESS");
    return { request_id: "r", job_id: "01JUPSCALE", status: "NOT_STARTED" as const, credits_cost: 2 };
  }
  async job(id: string) { return detail(id, this.states.get(id)!); }
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe("what the canvas reads from a render", () => {
  it("finds the photo it was made from and every input image", () => {
    expect(sourceUrl(render)).toBe("http://127.0.0.1:1/src.png?sig=y");
    expect(sourceUrl({ ...render, inputs: { scene_type: "paper" } })).toBeNull();
    expect(inputImages(render.inputs)).toEqual([
      ["source_image_url", "http://127.0.0.1:1/src.png?sig=y"],
      ["items[0].trial_image_url", "http://127.0.0.1:1/g.png"],
    ]);
  });
});

describe("upscaling a render", () => {
  it("is offered up to 64 megapixels made", () => {
    expect(upscaleRefusal(render, 4)).toBeNull();
    const big = { ...render, meta: { ...render.meta, width: 2048, height: 2048 } };
    expect(upscaleRefusal(big, 2)).toBeNull();
    expect(upscaleRefusal(big, 4)).toBe("×4 would be 67 megapixels; the limit is 64");
  });
});

describe("variations", () => {
  it("follow each new job to its picture or its failure", async () => {
    const engine = new Engine();
    const v = new Variations(engine);
    await v.start(render.public_id, 3);
    expect(v.items.map((i) => i.state)).toEqual(["running", "running", "running"]);
    engine.states.set("01JVAR0", "SUCCESS");
    engine.states.set("01JVAR2", "FAILURE");
    await v.refresh();
    expect(v.items.map((i) => [i.state, i.imageUrl, i.message])).toEqual([
      ["done", "http://127.0.0.1:1/01JVAR0.png", ""],
      ["running", null, "composite"],
      ["failed", null, "the disk is full"],
    ]);
    expect(v.running).toBe(true);
  });
});

describe("the render canvas", () => {
  let view: Record<string, unknown> | null = null;
  afterEach(() => { if (view) unmount(view); view = null; document.body.innerHTML = ""; });

  it("shows the render, compares it with its source, exports, varies and hands it on as an input", async () => {
    const engine = new Engine();
    const used: [string, string][] = [];
    view = mount(RenderView, { target: document.body, props: { render, backend: engine, onBack: () => {}, onUse: (k: string, s: string) => used.push([k, s]) } });
    await settle(); flushSync();
    expect(document.querySelector<HTMLImageElement>("[data-testid=canvas] img")!.src).toBe(render.image_url);
    expect(document.querySelector("[data-testid=provenance]")!.textContent).toContain("person_matte");

    document.querySelector<HTMLButtonElement>("[data-testid=view-compare]")!.click();
    flushSync();
    const slots = [...document.querySelectorAll("[data-testid=compare] img")].map((i) => [i.getAttribute("slot"), i.getAttribute("src")]);
    expect(slots).toEqual([["first", "http://127.0.0.1:1/src.png?sig=y"], ["second", render.image_url]]);

    document.querySelector<HTMLButtonElement>("[data-testid=export-webp]")!.click();
    await settle(); flushSync();
    expect(document.querySelector("[data-testid=export-note]")!.textContent).toBe("Saved to /home/me/Pictures/Figur Studio/01JRENDER.webp");

    document.querySelector<HTMLButtonElement>("[data-testid=vary]")!.click();
    await settle(); flushSync();
    expect(document.querySelectorAll("[data-testid=variation]")).toHaveLength(3);

    document.querySelector<HTMLButtonElement>("[data-testid=upscale-4]")!.click();
    await settle(); flushSync();
    expect(engine.calls).toContain("upscale 01JRENDER ×4");
    expect(document.querySelector("[data-testid=upscaled]")!.getAttribute("data-state")).toBe("running");

    const target = document.querySelector<HTMLSelectElement>("[data-testid=use-as-input-target]")!;
    target.value = "try-on";
    target.dispatchEvent(new Event("change", { bubbles: true }));
    document.querySelector<HTMLButtonElement>("[data-testid=use-as-input]")!.click();
    await settle();
    expect(used).toEqual([["uploads/X/render-01JRENDER.png", "try-on"]]);
  });
});
