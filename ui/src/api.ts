// The typed bridge to the engine: the generated bindings, with errors turned into exceptions
// that carry the engine's code.
import { commands, events, type UiError } from "./bindings";

export class StudioError extends Error {
  constructor(public code: string, message: string, public detail: string) {
    super(message);
  }
}

type Result<T> = { status: "ok"; data: T } | { status: "error"; error: UiError };

export async function call<T>(p: Promise<Result<T>>): Promise<T> {
  const r = await p;
  if (r.status === "error") throw new StudioError(r.error.code, r.error.message, r.error.detail);
  return r.data;
}

export { commands, events };

export interface LibraryItem {
  upload_key: string;
  image_url: string;
  name: string;
  sha256?: string;
}

// The library belongs to a data folder: main.ts sets the key once the studio says which.
let KEY = "figur.library";
export function useLibraryOf(dataDir: string): void {
  KEY = `figur.library:${dataDir}`;
}

export function library(): LibraryItem[] {
  try {
    return JSON.parse(localStorage.getItem(KEY) ?? "[]") as LibraryItem[];
  } catch {
    return [];
  }
}

/** Adds items, newest first; the same image imported twice is kept once. */
export function addToLibrary(items: LibraryItem[]): void {
  const seen = new Set(library().map((i) => i.sha256 ?? i.upload_key));
  const fresh = items.filter((i) => {
    const id = i.sha256 ?? i.upload_key;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  localStorage.setItem(KEY, JSON.stringify([...fresh, ...library()]));
}

/** The studio's cached 256-px thumbnail of a signed image URL (tiles never load full renders). */
export function thumb(url: string): string {
  return `${url}${url.includes("?") ? "&" : "?"}thumb=256`;
}
