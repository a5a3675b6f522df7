// Running a workflow from any screen: the typed command per workflow, and a timeline mounted
// where the screen wants it.
import { mount, unmount } from "svelte";
import { call, commands, events, StudioError } from "../api";
import type { Operation } from "../bindings";
import type { Timeline as TimelineState } from "../timeline";
import type { RequestOf, TimelineBackend } from "./backend";
import Timeline from "./Timeline.svelte";
import { server } from "../server";


// The typed command of each workflow. Keyed by the engine's `Operation`: a workflow added to
// the registration list does not type-check here until it has its entry.
const DISPATCH: { [K in Operation]: (request: never) => ReturnType<typeof commands.tryOn> } = {
  "try-on": commands.tryOn,
  extract: commands.extract,
  look: commands.look,
  "model-generator": commands.modelGenerator,
  "background-generator": commands.backgroundGenerator,
  "complementary-garment-generator": commands.complementaryGarmentGenerator,
  "product-to-model-direct": commands.productToModelDirect,
  "product-to-model-phased": commands.productToModelPhased,
  "background-swap-with-image": commands.backgroundSwapWithImage,
  "background-swap-with-spec": commands.backgroundSwapWithSpec,
  "model-swap-with-image": commands.modelSwapWithImage,
};

const localTimeline: TimelineBackend = {
  dispatch: (workflow, body) => {
    if (!(workflow in DISPATCH)) return Promise.reject(new StudioError("VALIDATION_ERROR", `there is no workflow called ${workflow}`, ""));
    return call(DISPATCH[workflow as Operation](body as never));
  },
  events: (jobId, since) => call(commands.jobEvents(jobId, since)),
  cancel: (jobId) => call(commands.cancel(jobId)),
  onJobChanged: (listener) => events.jobChanged.listen((e) => listener(e.payload.job_id)),
};

/** This machine's engine, or the studio server's when the desktop is connected to one. */
export const timelineBackend: TimelineBackend = server?.timeline ?? localTimeline;

const mounted = new WeakMap<HTMLElement, Record<string, unknown>>();

/** Dispatches `workflow` and shows its live timeline in `panel` (replacing what was there). */
export function runJob<W extends Operation>(panel: HTMLElement, workflow: W, body: RequestOf<W>, onDone?: (t: TimelineState, jobId: string | undefined) => void): void {
  const before = mounted.get(panel);
  if (before) void unmount(before);
  panel.replaceChildren();
  mounted.set(panel, mount(Timeline, { target: panel, props: { workflow, body, backend: timelineBackend, onDone } }));
}
