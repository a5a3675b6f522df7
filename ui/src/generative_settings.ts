// Settings' generative models: the diffusion exports added here or with `figur models add`
// (added from a folder, listed with kind, licence and size, removed), and the
// default model each use takes when a request names none (the data folder's settings, the
// same ones `figur config` sets).
import type { DefaultModel } from "./bindings";

/** A use's choices: none (saying what happens then), then each added model that can serve it. */
export function options(d: DefaultModel): { value: string; label: string; selected: boolean }[] {
  return [
    { value: "", label: `None — ${d.otherwise}`, selected: d.model === null },
    ...d.choices.map((c) => ({ value: c, label: c, selected: c === d.model })),
  ];
}
