// Settings' studio choices (`settings/StudioSettings.svelte`): the words they show. Saved by the
// app in its config folder; the API and the provider apply at once, a new data folder at the
// next start.
import type { SettingsView } from "./bindings";

export const PROVIDERS: [string, string][] = [
  ["auto", "Automatic — the GPU when it loads, else the CPU"],
  ["cpu", "CPU only"],
  ["cuda", "GPU (CUDA) — fail instead of falling back"],
];

/** The words under the API switch: where scripts reach it, or why it is not on. */
export function apiStatus(view: SettingsView): string {
  if (view.api_url) return `On at ${view.api_url}/v1 — scripts need an API key (below).`;
  if (view.settings.api_enabled && view.api_problem) return `Not on: ${view.api_problem}`;
  return "Off. The app itself does not need it.";
}
