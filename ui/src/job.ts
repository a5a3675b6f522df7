// An error box for the screens still drawn with `h()` (Settings); the Svelte screens use
// `job/ErrorBox.svelte`, which reads the same words.
import { StudioError } from "./api";
import { h } from "./dom";
import { explain } from "./words";

export function errorBox(e: unknown): HTMLElement {
  const err = e instanceof StudioError ? e : new StudioError("ERROR", String(e), "");
  return h(
    "div",
    { class: "error", role: "alert" },
    h("strong", {}, explain(err.code, err.message)),
    h("details", {}, h("summary", {}, "Details"), h("pre", {}, `${err.code}: ${err.message}\n${err.detail}`)),
  );
}
