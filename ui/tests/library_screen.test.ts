import { afterEach, describe, expect, it } from "vitest";
import { flushSync, mount, unmount } from "svelte";
import LibraryScreen from "../src/library/LibraryScreen.svelte";
import { LibraryStore, PAGE, type LibraryBackend, type LibraryItem } from "../src/library/store.svelte";
import type { LibraryEdit_Deserialize, LibrarySearch_Deserialize } from "../src/bindings";

function item(n: number, tags: string[] = [], favourite = false): LibraryItem {
  return {
    upload_key: `uploads/${n}/p${n}.png`, image_url: `http://127.0.0.1:1/v1/artifacts/live/uploads/${n}/p${n}.png?sig=x`,
    name: n === 1 ? "red_dress.png" : `p${n}.png`, source_folder: null, mime: "image/png", width: 10, height: 10, bytes: 1,
    sha256: "", created_at: "", tags, favourite,
  };
}

/** A library of `n` photos with the engine's search rules in miniature (tested for real in Rust). */
class Library implements LibraryBackend {
  pages: string[] = [];
  constructor(public items: LibraryItem[], public delay: (q: LibrarySearch_Deserialize) => Promise<void> = async () => {}) {}
  async page(q: LibrarySearch_Deserialize, offset: number, limit: number) {
    this.pages.push(`${q.text ?? ""}|${q.tag ?? ""}|${q.favourite ?? ""}@${offset}`);
    await this.delay(q);
    const hit = this.items.filter((i) =>
      (!q.text || i.name.includes(q.text) || i.tags.some((t) => t.includes(q.text!))) && (!q.tag || i.tags.includes(q.tag)) && (q.favourite == null || i.favourite === q.favourite));
    const uploads = hit.slice(offset, offset + limit);
    return { uploads, limit, offset, count: uploads.length, total: hit.length };
  }
  async tags() {
    const counts = new Map<string, number>();
    for (const i of this.items) for (const t of i.tags) counts.set(t, (counts.get(t) ?? 0) + 1);
    return [...counts].map(([tag, count]) => ({ tag, count }));
  }
  async edit(key: string, edit: LibraryEdit_Deserialize) {
    const i = this.items.find((i) => i.upload_key === key);
    if (!i) throw new Error(`no upload with id ${key}`);
    if (edit.tags) i.tags = [...new Set(edit.tags.map((t) => t.trim().toLowerCase()))].sort();
    if (edit.favourite != null) i.favourite = edit.favourite;
    return { ...i };
  }
}

const settle = () => new Promise((r) => setTimeout(r, 0));

// jsdom lays nothing out and has no ResizeObserver (the grid's size binding uses it); the grid
// then falls back to its default size.
globalThis.ResizeObserver ??= class { observe() {} unobserve() {} disconnect() {} };

describe("the library store", () => {
  it("reads only the pages the grid reaches, and a newer search wins over a slower older one", async () => {
    const lib = new Library(Array.from({ length: 1000 }, (_, n) => item(n + 1)));
    const store = new LibraryStore(lib);
    await store.reload();
    expect(store.total).toBe(1000);
    expect(store.items.filter(Boolean)).toHaveLength(PAGE);
    await store.ensure(5 * PAGE + 3, 5 * PAGE + 20);
    await store.ensure(5 * PAGE + 3, 5 * PAGE + 20);
    expect(lib.pages).toEqual(["||@0", `||@${5 * PAGE}`]);
    expect(store.items[5 * PAGE + 3]?.name).toBe(`p${5 * PAGE + 4}.png`);

    let release: () => void = () => {};
    lib.delay = (q) => (q.text === "slow" ? new Promise<void>((r) => (release = r)) : Promise.resolve());
    store.text = "slow";
    const older = store.reload();
    store.text = "red";
    await store.reload();
    release();
    await older;
    expect(store.total).toBe(1);
    expect(store.items.map((i) => i?.name)).toEqual(["red_dress.png"]);
  });

  it("tags and favourites an item in place and keeps the engine's refusal", async () => {
    const lib = new Library([item(1), item(2)]);
    const store = new LibraryStore(lib);
    await store.reload();
    await store.addTag(store.items[0]!, " Hero ");
    await store.toggleFavourite(store.items[0]!);
    expect([store.items[0]!.tags, store.items[0]!.favourite]).toEqual([["hero"], true]);
    expect(store.tags).toEqual([{ tag: "hero", count: 1 }]);
    expect(await store.addTag(store.items[1]!, "   ")).toBeNull();
    await store.removeTag(store.items[0]!, "hero");
    expect(store.items[0]!.tags).toEqual([]);
    await store.toggleFavourite({ ...item(9) });
    expect(store.error).toBe("no upload with id uploads/9/p9.png");
  });
});

describe("the library screen", () => {
  let screen: Record<string, unknown> | null = null;
  afterEach(() => { if (screen) unmount(screen); screen = null; document.body.innerHTML = ""; });

  it("searches as the designer types, narrows by tag and favourites, and tags the open photo", async () => {
    const lib = new Library([item(1, ["ss27"]), item(2, ["ss27"], true), item(3)]);
    screen = mount(LibraryScreen, { target: document.body, props: { backend: lib, importPaths: async () => [] } });
    await settle(); flushSync();
    const names = () => [...document.querySelectorAll("[data-testid=library-tile] img")].map((i) => i.getAttribute("alt"));
    expect(names()).toEqual(["red_dress.png", "p2.png", "p3.png"]);
    expect(document.querySelector("[data-testid=library-count]")!.textContent).toBe("3 photos");

    const search = document.querySelector<HTMLInputElement>("[data-testid=library-search]")!;
    search.value = "dress";
    search.dispatchEvent(new Event("input", { bubbles: true }));
    await new Promise((r) => setTimeout(r, 250)); flushSync();
    expect(names()).toEqual(["red_dress.png"]);
    search.value = "";
    search.dispatchEvent(new Event("input", { bubbles: true }));
    await new Promise((r) => setTimeout(r, 250)); flushSync();

    document.querySelector<HTMLButtonElement>("[data-testid=library-tag][data-tag=ss27]")!.click();
    await settle(); flushSync();
    expect(names()).toEqual(["red_dress.png", "p2.png"]);
    document.querySelector<HTMLInputElement>("[data-testid=library-favourites]")!.click();
    await settle(); flushSync();
    expect(names()).toEqual(["p2.png"]);

    document.querySelector<HTMLButtonElement>("[data-testid=library-tile] .tile-open")!.click();
    flushSync();
    const tagInput = document.querySelector<HTMLInputElement>("[data-testid=tag-input]")!;
    tagInput.value = "hero shot";
    tagInput.dispatchEvent(new Event("input", { bubbles: true }));
    document.querySelector<HTMLButtonElement>("[data-testid=tag-add]")!.click();
    await settle(); flushSync();
    expect(lib.items[1].tags).toEqual(["hero shot", "ss27"]);
    expect(document.querySelector("[data-testid=library-detail]")!.textContent).toContain("hero shot");
  });
});
