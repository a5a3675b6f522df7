import { describe, expect, it } from "vitest";
import { options, tryOnDrawer } from "../src/generative_settings";
import type { DefaultModel } from "../src/bindings";

const refine: DefaultModel = {
  key: "refine",
  label: "Try-on refinement",
  model: "sd15-inpaint",
  choices: [{ name: "sd15", licence: "CreativeML-OpenRAIL-M" }, { name: "sd15-inpaint", licence: "CreativeML-OpenRAIL-M" }],
  otherwise: "the first added inpainting model, else no refinement",
};

describe("a default model's choices", () => {
  it("offers none first, saying what happens then, and selects the saved model", () => {
    const got = options(refine);
    expect(got.map((o) => o.value)).toEqual(["", "sd15", "sd15-inpaint"]);
    expect(got[0].label).toBe("None — the first added inpainting model, else no refinement");
    expect(got[1].label).toBe("sd15 (CreativeML-OpenRAIL-M)");
    expect(got.filter((o) => o.selected).map((o) => o.value)).toEqual(["sd15-inpaint"]);
  });
  it("selects none when nothing is set", () => {
    expect(options({ ...refine, model: null }).filter((o) => o.selected).map((o) => o.value)).toEqual([""]);
  });
});

describe("who draws a try-on", () => {
  const tryOn: DefaultModel = {
    key: "try-on",
    label: "Try-on model (draws the garments)",
    model: null,
    choices: [{ name: "catvton", licence: "CC-BY-NC-SA-4.0" }, { name: "catvton-hd", licence: "CC-BY-NC-SA-4.0" }],
    otherwise: "the first added try-on model, else the fitted draft",
  };
  it("is the default, else the first added try-on model, with its licence", () => {
    expect(tryOnDrawer([refine, tryOn])).toBe("catvton draws the garments (licence CC-BY-NC-SA-4.0).");
    expect(tryOnDrawer([{ ...tryOn, model: "catvton-hd" }])).toBe("catvton-hd draws the garments (licence CC-BY-NC-SA-4.0).");
  });
  it("is the fitted draft without a try-on model", () => {
    expect(tryOnDrawer([refine, { ...tryOn, choices: [] }])).toMatch(/^The fitted draft/);
    expect(tryOnDrawer([])).toMatch(/^The fitted draft/);
  });
});
