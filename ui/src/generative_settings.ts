// Settings' generative models: the diffusion exports added here or with `figur models add`
// (added from a folder, listed with kind, licence and size, removed), and the
// default model each use takes when a request names none (the data folder's settings, the
// same ones `figur config` sets).
import type { DefaultModel, GenerativeView } from "./bindings";

/**
 * Where the generative models and their defaults are read and set: this machine's studio, or
 * the studio server the desktop is connected to (its models are added on the server itself).
 */
export interface GenerativeBackend {
  view(): Promise<GenerativeView>;
  setDefault(key: string, model: string | null): Promise<GenerativeView>;
  /** Models are added from a folder of this machine: only to this machine's studio. */
  readonly local: boolean;
}

/** A use's choices: none (saying what happens then), then each added model that can serve it,
 * with the licence it was added under. */
export function options(d: DefaultModel): { value: string; label: string; selected: boolean }[] {
  return [
    { value: "", label: `None — ${d.otherwise}`, selected: d.model === null },
    ...d.choices.map((c) => ({ value: c.name, label: `${c.name} (${c.licence})`, selected: c.name === d.model })),
  ];
}

/** What draws a try-on dispatched without naming a model: the try-on default, else the first
 * added try-on model (as dispatch resolves it), else the fitted draft. */
export function tryOnDrawer(defaults: DefaultModel[]): string {
  const use = defaults.find((d) => d.key === "try-on");
  const name = use?.model ?? use?.choices[0]?.name;
  if (!name || !use) return "The fitted draft draws the garments (no try-on model is added).";
  const licence = use.choices.find((c) => c.name === name)?.licence;
  return `${name} draws the garments${licence ? ` (licence ${licence})` : ""}.`;
}
