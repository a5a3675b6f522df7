// Error codes in words a designer understands; the code and detail stay one click away. The
// words are generated from the engine's failure type and the desktop's codes (`WORDS` in the
// bindings), so a new code cannot be forgotten here.
import { WORDS, type UiCode } from "./bindings";

const words: Readonly<Record<string, string>> = WORDS;

export function explain(code: UiCode, message: string): string {
  return words[code] ?? message;
}
