// Settings' generative models: the diffusion exports added here or with `figur models add`
// (added from a folder, listed with kind, licence and size, removed), and the
// default model each use takes when a request names none (the data folder's settings, the
// same ones `figur config` sets).
import { call, commands } from "./api";
import { clear, h } from "./dom";
import { errorBox } from "./job";
import type { DefaultModel, GenerativeView } from "./bindings";

/** A use's choices: none (saying what happens then), then each added model that can serve it. */
export function options(d: DefaultModel): { value: string; label: string; selected: boolean }[] {
  return [
    { value: "", label: `None — ${d.otherwise}`, selected: d.model === null },
    ...d.choices.map((c) => ({ value: c, label: c, selected: c === d.model })),
  ];
}

/** Remove asks once more in place (a second click within 5 s), naming what it will do. */
function removeButton(name: string, remove: () => void): HTMLButtonElement {
  let armed: ReturnType<typeof setTimeout> | undefined;
  const button: HTMLButtonElement = h("button", { class: "secondary", "data-testid": "remove-model", "aria-label": `Remove ${name}`, onclick: () => {
    if (armed) {
      clearTimeout(armed);
      remove();
      return;
    }
    button.textContent = "Click again: remove its files and the defaults naming it";
    button.dataset.armed = "true";
    armed = setTimeout(() => { armed = undefined; button.textContent = "Remove"; delete button.dataset.armed; }, 5000);
  } }, "Remove");
  return button;
}

export function generativeSettings(): HTMLElement {
  const box = h("section", { "data-testid": "generative-settings" });
  void commands.generativeModels().then((view) => draw(box, view));
  return box;
}

function draw(box: HTMLElement, view: GenerativeView): void {
  const note = h("div", { "aria-live": "polite" });
  const act = async (change: Promise<Awaited<ReturnType<typeof commands.removeModel>>>) => {
    try {
      draw(box, await call(change));
    } catch (e) {
      clear(note, errorBox(e));
    }
  };
  const models = view.models.length === 0
    ? h("p", { class: "muted", "data-testid": "no-generative-models" },
      "No generative model is added. Export one with Hugging Face Optimum (see the README) and add its folder below, or with ",
      h("code", {}, "figur models add NAME --from DIR --license LICENCE"), ".")
    : h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Model"), h("th", {}, "Kind"), h("th", {}, "Licence"), h("th", {}, "Size"), h("th", {}))),
      h("tbody", {}, ...view.models.map((m) => h("tr", { "data-testid": "generative-model" }, h("td", {}, m.name), h("td", {}, m.kind), h("td", {}, m.licence), h("td", {}, `${m.megabytes} MB`),
        h("td", {}, removeButton(m.name, () => void act(commands.removeModel(m.name))))))));
  const folder = h("input", { type: "text", "aria-label": "Export folder", placeholder: "/path/to/optimum-export", size: 40, "data-testid": "add-model-folder" });
  const name = h("input", { type: "text", "aria-label": "Model name", placeholder: "name, e.g. sd15-inpaint", "data-testid": "add-model-name" });
  const licence = h("input", { type: "text", "aria-label": "Licence", placeholder: "licence, e.g. CreativeML-OpenRAIL-M", "data-testid": "add-model-licence" });
  const add = h("form", { class: "row", onsubmit: (e: Event) => {
    e.preventDefault();
    clear(note, h("p", { class: "muted" }, "Checking the export and hashing its files…"));
    void act(commands.addModel(folder.value, name.value, licence.value));
  } }, folder, name, licence, h("button", { type: "submit", class: "secondary", "data-testid": "add-model" }, "Add model"));
  const rows = view.defaults.map((d) => {
    const id = `default-${d.key}`;
    const select = h("select", { id, "data-testid": id, onchange: async () => {
      try {
        draw(box, await call(commands.setDefaultModel(d.key, select.value === "" ? null : select.value)));
      } catch (e) {
        clear(note, errorBox(e));
      }
    } },
    ...options(d).map((o) => h("option", { value: o.value, selected: o.selected }, o.label)));
    return h("div", { class: "field" }, h("label", { for: id }, `${d.label} `), select);
  });
  clear(box, models, add, ...rows, note);
}
