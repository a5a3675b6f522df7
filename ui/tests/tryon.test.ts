import { afterEach, describe, expect, it } from "vitest";
import { flushSync, mount, unmount } from "svelte";
import TryOnScreen from "../src/tryon/TryOnScreen.svelte";
import { DRAG_TYPE, guessCategory, tryOnRequest, withGarment } from "../src/tryon/look";
import type { LibraryBackend, LibraryItem } from "../src/library/store.svelte";

globalThis.ResizeObserver ??= class { observe() {} unobserve() {} disconnect() {} };

function item(name: string, tags: string[] = []): LibraryItem {
  return { upload_key: `uploads/K/${name}`, image_url: `http://127.0.0.1:1/${name}?sig=x`, name, source_folder: null, mime: "image/png", width: 1, height: 1, bytes: 1, sha256: "", created_at: "", tags, favourite: false };
}

const photos = [item("anna.jpg"), item("red_t-shirt.png"), item("wool coat.jpg"), item("IMG_0042.jpg", ["skirt"])];
const backend: LibraryBackend = {
  async page(q, offset, limit) {
    const hit = photos.filter((p) => !q.text || p.name.includes(q.text));
    return { uploads: hit.slice(offset, offset + limit), limit, offset, count: hit.length, total: hit.length };
  },
  async tags() { return []; },
  async edit() { throw new Error("not here"); },
};

const settle = () => new Promise((r) => setTimeout(r, 0));

describe("putting a try-on together", () => {
  it("guesses each garment's category from its tags, else its name, else top", () => {
    expect(photos.map(guessCategory)).toEqual(["top", "t-shirt", "coat", "skirt"]);
  });
  it("wears a garment once and never the person", () => {
    let worn = withGarment([], photos[0], photos[1]);
    worn = withGarment(worn, photos[0], photos[1]);
    worn = withGarment(worn, photos[0], photos[0]);
    expect(worn.map((g) => g.item.name)).toEqual(["red_t-shirt.png"]);
    expect(tryOnRequest(photos[0], worn, "1K")).toEqual({
      user_image: "uploads/K/anna.jpg", items: [{ trial_image: "uploads/K/red_t-shirt.png", trial_item_category: "t-shirt" }], render_params: { resolution: "1K" },
    });
  });
});

describe("the try-on screen", () => {
  let screen: Record<string, unknown> | null = null;
  afterEach(() => { if (screen) unmount(screen); screen = null; document.body.innerHTML = ""; });

  function dropOnStage(it: LibraryItem) {
    const e = new Event("drop", { bubbles: true, cancelable: true });
    Object.defineProperty(e, "dataTransfer", { value: { getData: (t: string) => (t === DRAG_TYPE ? JSON.stringify(it) : "") } });
    document.querySelector("[data-testid=tryon-stage]")!.dispatchEvent(e);
  }

  it("takes a person by click, garments by drop and click, and runs the request they make", async () => {
    const runs: unknown[] = [];
    screen = mount(TryOnScreen, { target: document.body, props: { backend, run: (_p: HTMLElement, w: string, body: unknown) => runs.push([w, body]) } });
    await settle(); flushSync();
    document.querySelector<HTMLButtonElement>("[data-testid=run]")!.click();
    flushSync();
    expect(document.querySelector("[role=alert]")!.textContent).toBe("Choose a person photo first.");

    document.querySelector<HTMLButtonElement>("[data-testid=person-pick][data-key='uploads/K/anna.jpg']")!.click();
    flushSync();
    expect(document.querySelector<HTMLImageElement>("[data-testid=tryon-person]")!.alt).toBe("The person: anna.jpg");
    dropOnStage(photos[2]);
    flushSync();
    document.querySelector<HTMLButtonElement>("[data-testid=garment-pick][data-key='uploads/K/IMG_0042.jpg']")!.click();
    flushSync();
    const worn = [...document.querySelectorAll("[data-testid=tryon-garment]")].map((li) => [li.querySelector("span")!.textContent, li.querySelector("select")!.value]);
    expect(worn).toEqual([["wool coat.jpg", "coat"], ["IMG_0042.jpg", "skirt"]]);

    document.querySelector<HTMLButtonElement>("[data-testid=run]")!.click();
    expect(runs).toEqual([["try-on", tryOnRequest(photos[0], [{ item: photos[2], category: "coat" }, { item: photos[3], category: "skirt" }], "1K")]]);
  });

  it("starts with the person another screen handed over", async () => {
    screen = mount(TryOnScreen, { target: document.body, props: { backend, run: () => {}, initialPerson: "uploads/K/wool coat.jpg" } });
    await settle(); await settle(); flushSync();
    expect(document.querySelector<HTMLImageElement>("[data-testid=tryon-person]")!.alt).toBe("The person: wool coat.jpg");
  });
});
