// Settings' generative models: the diffusion exports added with `figur models add` and the
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

export function generativeSettings(): HTMLElement {
  const box = h("section", { "data-testid": "generative-settings" });
  void commands.generativeModels().then((view) => draw(box, view));
  return box;
}

function draw(box: HTMLElement, view: GenerativeView): void {
  const note = h("div", { "aria-live": "polite" });
  const models = view.models.length === 0
    ? h("p", { class: "muted", "data-testid": "no-generative-models" },
      "No generative model is added. Export one with Hugging Face Optimum and add it with ",
      h("code", {}, "figur models add NAME --from DIR --license LICENCE"), " (see the README).")
    : h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Model"), h("th", {}, "Kind"), h("th", {}, "Licence"), h("th", {}, "Size"))),
      h("tbody", {}, ...view.models.map((m) => h("tr", {}, h("td", {}, m.name), h("td", {}, m.kind), h("td", {}, m.licence), h("td", {}, `${m.megabytes} MB`)))));
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
  clear(box, models, ...rows, note);
}
