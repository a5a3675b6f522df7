// The library as the desktop browses it: a search (words, a tag, favourites only) run by the
// engine, read a page at a time as the grid scrolls to it, so thousands of photos cost only
// the pages seen. Tags and favourites are written to the engine and the page re-read.
import type { LibraryEdit_Deserialize, LibraryImage_Serialize, LibrarySearch_Deserialize, TagCount, UploadList_Serialize } from "../bindings";

export type LibraryItem = LibraryImage_Serialize;

export interface LibraryBackend {
  page(search: LibrarySearch_Deserialize, offset: number, limit: number): Promise<UploadList_Serialize>;
  tags(): Promise<TagCount[]>;
  edit(uploadKey: string, edit: LibraryEdit_Deserialize): Promise<LibraryItem>;
}

export const PAGE = 120;

export class LibraryStore {
  text = $state("");
  tag = $state<string | null>(null);
  favouritesOnly = $state(false);
  /** By position in the search's order; a slot is undefined until its page is read. */
  items = $state.raw<(LibraryItem | undefined)[]>([]);
  total = $state(0);
  tags = $state.raw<TagCount[]>([]);
  error = $state<string | null>(null);
  loaded = $state(false);
  #search = 0;
  #pages = new Map<number, Promise<void>>();

  constructor(private backend: LibraryBackend) {}

  get query(): LibrarySearch_Deserialize {
    const text = this.text.trim();
    return { text: text || null, tag: this.tag, favourite: this.favouritesOnly ? true : null, folder: null };
  }

  /** Starts the search over: the first page and the total. */
  async reload(): Promise<void> {
    this.#search += 1;
    this.#pages.clear();
    await this.#load(0);
    this.loaded = true;
  }

  /** The library's tags with their counts (they change with edits, not with searches). */
  async loadTags() {
    try {
      this.tags = await this.backend.tags();
    } catch (e) {
      this.error = String(e instanceof Error ? e.message : e);
    }
  }

  #load(page: number): Promise<void> {
    const known = this.#pages.get(page);
    if (known) return known;
    const search = this.#search;
    const query = this.query;
    const loading = (async () => {
      try {
        const got = await this.backend.page(query, page * PAGE, PAGE);
        if (search !== this.#search) return; // a newer search has started
        const items = page === 0 ? new Array<LibraryItem | undefined>(Number(got.total)) : this.items.slice();
        items.length = Number(got.total);
        got.uploads.forEach((item, i) => (items[page * PAGE + i] = item));
        this.items = items;
        this.total = Number(got.total);
        this.error = null;
      } catch (e) {
        this.#pages.delete(page);
        this.error = String(e instanceof Error ? e.message : e);
      }
    })();
    this.#pages.set(page, loading);
    return loading;
  }

  /** Reads the pages that hold positions `from`..`to` (exclusive) if they are not read yet. */
  async ensure(from: number, to: number): Promise<void> {
    const pages = [];
    for (let p = Math.floor(from / PAGE); p * PAGE < Math.min(to, this.total); p++) pages.push(this.#load(p));
    await Promise.all(pages);
  }

  #replace(item: LibraryItem) {
    this.items = this.items.map((i) => (i?.upload_key === item.upload_key ? item : i));
  }

  async #edit(uploadKey: string, edit: LibraryEdit_Deserialize): Promise<LibraryItem | null> {
    try {
      const item = await this.backend.edit(uploadKey, edit);
      this.#replace(item);
      await this.loadTags();
      return item;
    } catch (e) {
      this.error = String(e instanceof Error ? e.message : e);
      return null;
    }
  }

  toggleFavourite(item: LibraryItem) {
    return this.#edit(item.upload_key, { tags: null, favourite: !item.favourite });
  }

  addTag(item: LibraryItem, tag: string) {
    if (!tag.trim()) return Promise.resolve(null);
    return this.#edit(item.upload_key, { tags: [...item.tags, tag], favourite: null });
  }

  removeTag(item: LibraryItem, tag: string) {
    return this.#edit(item.upload_key, { tags: item.tags.filter((t) => t !== tag), favourite: null });
  }
}
