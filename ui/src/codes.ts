// The codes the UI can meet, as generated from the engine and the desktop (`CODES` in the
// bindings): a code read from JSON is one of them or it is not, never free text.
import { CODES, type UiCode } from "./bindings";

const known: ReadonlySet<string> = new Set(CODES);

/** A code read from JSON (a server's envelope, a job's event), if it is one the studio has. */
export function asCode(code: unknown): UiCode | undefined {
  return typeof code === "string" && known.has(code) ? (code as UiCode) : undefined;
}
