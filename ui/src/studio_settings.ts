// Settings' studio choices: the local /v1 API for scripts (on/off, port), the execution
// provider, the data folder. Saved by the app in its config folder; the API and the provider
// apply at once, a new data folder at the next start (a restart button appears).
import { call, commands } from "./api";
import { clear, h } from "./dom";
import { errorBox } from "./job";
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

export function studioSettings(): HTMLElement {
  const box = h("section", { "data-testid": "studio-settings" });
  void commands.desktopSettings().then((r) => {
    if (r.status === "ok") draw(box, r.data);
    else box.append(errorBox(r.error));
  });
  return box;
}

function draw(box: HTMLElement, view: SettingsView): void {
  const s = view.settings;
  const enabled = h("input", { type: "checkbox", id: "api-enabled", "data-testid": "api-enabled", checked: Boolean(s.api_enabled) });
  const port = h("input", { type: "number", id: "api-port", "data-testid": "api-port", min: 1024, max: 65535, value: s.api_port ?? 8686 });
  const provider = h("select", { id: "provider", "data-testid": "provider" },
    ...PROVIDERS.map(([value, label]) => h("option", { value, selected: value === s.provider }, label)));
  const dataDir = h("input", { type: "text", id: "data-dir", "data-testid": "data-dir", size: 48, value: s.data_dir ?? view.data_dir_in_use });
  const note = h("div", { "aria-live": "polite", "data-testid": "settings-note" });
  const save = h("button", { class: "primary", "data-testid": "save-settings", onclick: async () => {
    save.setAttribute("disabled", "");
    try {
      const dir = dataDir.value.trim();
      const next = await call(commands.saveSettings({
        api_enabled: enabled.checked,
        api_port: Number(port.value),
        provider: provider.value,
        data_dir: dir === "" || dir === view.data_dir_in_use ? (s.data_dir ?? null) : dir,
      }));
      draw(box, next);
      box.querySelector("[data-testid=settings-note]")?.append(h("p", { class: "muted" }, "Saved."));
    } catch (e) {
      clear(note, errorBox(e));
      save.removeAttribute("disabled");
    }
  } }, "Save settings");
  const restart = view.restart_needed
    ? h("p", { "data-testid": "restart-needed" }, `The studio opens ${s.data_dir ?? "the default folder"} at its next start. `,
      h("button", { class: "secondary", onclick: () => void commands.restart() }, "Restart now"))
    : null;
  clear(box,
    h("div", { class: "field" }, enabled, h("label", { for: "api-enabled" }, " Serve the local /v1 API for scripts (this machine only)")),
    h("div", { class: "field" }, h("label", { for: "api-port" }, "Port "), port),
    h("p", { class: "muted", "data-testid": "api-status" }, apiStatus(view)),
    h("div", { class: "field" }, h("label", { for: "provider" }, "Execution provider "), provider),
    h("p", { class: "muted" }, `Models open on: ${view.providers_in_use}. The GPU build of ONNX Runtime comes with `, h("code", {}, "figur models fetch --gpu"), "; each job's stages say which provider ran."),
    h("div", { class: "field" }, h("label", { for: "data-dir" }, "Data folder "), dataDir),
    h("p", { class: "muted" }, `In use: ${view.data_dir_in_use}. A new folder starts empty (its own library, jobs and renders); the old one stays as it is.`),
    restart, save, note);
}
