// What the render canvas reads from a render: the picture it was made from (for before/after),
// its input images, and the job's provenance.
import type { DispatchAccepted, Render_Serialize, RenderList_Serialize, UploadAccepted } from "../bindings";
import type { VariationBackend } from "./variations.svelte";

export type Render = Render_Serialize;

/** The largest picture an upscale makes (the engine's `MAX_OUTPUT_PIXELS`): a 4K photo ×2. */
export const UPSCALE_MAX_PIXELS = 64_000_000;

/** Why `render` cannot be enlarged `scale` times, if it cannot (else null). */
export function upscaleRefusal(render: Render, scale: number): string | null {
  const out = render.meta.width * render.meta.height * scale * scale;
  return out > UPSCALE_MAX_PIXELS ? `×${scale} would be ${(out / 1e6).toFixed(0)} megapixels; the limit is 64` : null;
}

/** What the gallery and the render canvas ask of the engine. */
export interface RenderBackend extends VariationBackend {
  renders(offset: number, limit: number): Promise<RenderList_Serialize>;
  exportRender(renderId: string, format: string): Promise<string>;
  useAsInput(renderId: string): Promise<UploadAccepted>;
  /** The job's provenance (models, seeds, prompts), from its `succeeded` event. */
  provenance(jobId: string): Promise<unknown>;
  /** Dispatches `upscale` on the render (×2 or ×4); the result is a render of its own. */
  upscale(renderId: string, scale: 2 | 4): Promise<DispatchAccepted>;
  onJobChanged(listener: () => void): Promise<() => void>;
}

/** Request fields whose signed URL is the photo a render was made from, most telling first. */
const SOURCE_FIELDS = ["source_image_url", "user_image_url", "product_image_url"];

/** The URL of the photo the render was made from, if it was made from one. */
export function sourceUrl(render: Render): string | null {
  const inputs = render.inputs as Record<string, unknown> | null;
  if (!inputs || typeof inputs !== "object") return null;
  for (const field of SOURCE_FIELDS) {
    const url = inputs[field];
    if (typeof url === "string") return url;
  }
  return null;
}

/** Every input image of the render: (field path, URL), in request order. */
export function inputImages(value: unknown, path = ""): [string, string][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => inputImages(v, `${path}[${i}]`));
  if (value && typeof value === "object") {
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
      typeof v === "string" && k.endsWith("_url") ? [[`${path}${path ? "." : ""}${k}`, v] as [string, string]] : inputImages(v, `${path}${path ? "." : ""}${k}`));
  }
  return [];
}

/** "BACKGROUND_SWAP_WITH_SPEC" → "background swap with spec". */
export function workflowWords(jobType: string): string {
  return jobType.toLowerCase().replaceAll("_", " ");
}
