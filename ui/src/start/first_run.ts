// The first-run guide: when it shows, and what it asks of the engine.
import type { Imported_Serialize, ModelState } from "../bindings";

export interface FirstRunBackend {
  models(): Promise<ModelState[]>;
  /** Starts the fetch; progress lines arrive on `onProgress` until one says done. */
  fetchModels(): Promise<void>;
  onProgress(listener: (line: string, done: boolean, failed: boolean) => void): Promise<() => void>;
  importSamples(): Promise<Imported_Serialize[]>;
}

const DISMISSED = "figur.first-run-done";

/**
 * The guide opens on a data folder with nothing in it yet (no photo, no render) unless the
 * designer finished or skipped it in this window before (remembered per data folder).
 */
export function shouldGuide(storage: Storage, dataDir: string, photos: number, renders: number): boolean {
  return photos === 0 && renders === 0 && storage.getItem(`${DISMISSED}:${dataDir}`) === null;
}

export function dismissGuide(storage: Storage, dataDir: string): void {
  storage.setItem(`${DISMISSED}:${dataDir}`, "1");
}
