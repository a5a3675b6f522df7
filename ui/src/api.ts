// The typed bridge to the engine: the generated bindings, with errors turned into exceptions
// that carry the engine's code.
import { commands, events, type LibraryImage_Serialize, type UiCode, type UiError } from "./bindings";

/** An engine, job or desktop failure: `code` is one of the generated codes, never free text. */
export class StudioError extends Error {
  constructor(public code: UiCode, message: string, public detail: string) {
    super(message);
  }
}

export { asCode } from "./codes";

type Result<T> = { status: "ok"; data: T } | { status: "error"; error: UiError };

export async function call<T>(p: Promise<Result<T>>): Promise<T> {
  const r = await p;
  if (r.status === "error") throw new StudioError(r.error.code, r.error.message, r.error.detail);
  return r.data;
}

export { commands, events };

/** One image of the library, as the engine lists it. */
export type LibraryItem = LibraryImage_Serialize;

const PAGE = 200;

/**
 * The library: every image in the data folder's ledger, newest first, read a page at a time.
 * Image URLs are signed by the engine as the list is read (they name the private server's port,
 * new at every start, and expire), so nothing here is kept between starts.
 */
export async function library(): Promise<LibraryItem[]> {
  const items: LibraryItem[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await call(commands.library({}, offset, PAGE));
    items.push(...page.uploads);
    if (page.count < PAGE) return items;
  }
}

export interface Migration {
  /** Photos of the old list that the ledger holds (all of them, normally: imports always went there). */
  carried: number;
  /** Photos of the old list whose upload is not in this data folder any more. */
  missing: number;
}

/**
 * Earlier versions kept the library in this window's localStorage (one list per data folder,
 * each photo with a signed URL that broke at the next start). The uploads themselves were always
 * in the ledger, which is now the library; this retires the old list once and says what became
 * of it. `null` when there was nothing to migrate — then the ledger is not read at all.
 */
export async function migrateLegacyLibrary(storage: Storage, dataDir: string, ledgerKeys: () => Promise<Set<string>>): Promise<Migration | null> {
  const keys = [`figur.library:${dataDir}`, "figur.library"];
  const old: { upload_key?: string }[] = [];
  for (const key of keys) {
    const raw = storage.getItem(key);
    if (raw === null) continue;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (Array.isArray(parsed)) old.push(...(parsed as { upload_key?: string }[]));
    } catch {
      // An unreadable old list has nothing to carry over.
    }
    storage.removeItem(key);
  }
  if (!old.length) return null;
  const uploadKeys = new Set(old.map((i) => i.upload_key).filter((k): k is string => typeof k === "string"));
  const inLedger = await ledgerKeys();
  const carried = [...uploadKeys].filter((k) => inLedger.has(k)).length;
  return { carried, missing: uploadKeys.size - carried };
}

/** The studio's cached thumbnail (longest side 128, 256 or 512; 256 unless asked) of a signed
 *  image URL: tiles never load full renders. */
export function thumb(url: string, side: 128 | 256 | 512 = 256): string {
  return `${url}${url.includes("?") ? "&" : "?"}thumb=${side}`;
}
