import { describe, expect, it } from "vitest";
import { options } from "../src/generative_settings";
import type { DefaultModel } from "../src/bindings";

const refine: DefaultModel = {
  key: "refine",
  label: "Try-on refinement",
  model: "sd15-inpaint",
  choices: ["sd15", "sd15-inpaint"],
  otherwise: "the first added inpainting model, else no refinement",
};

describe("a default model's choices", () => {
  it("offers none first, saying what happens then, and selects the saved model", () => {
    const got = options(refine);
    expect(got.map((o) => o.value)).toEqual(["", "sd15", "sd15-inpaint"]);
    expect(got[0].label).toBe("None — the first added inpainting model, else no refinement");
    expect(got.filter((o) => o.selected).map((o) => o.value)).toEqual(["sd15-inpaint"]);
  });
  it("selects none when nothing is set", () => {
    expect(options({ ...refine, model: null }).filter((o) => o.selected).map((o) => o.value)).toEqual([""]);
  });
});
