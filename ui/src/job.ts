// Runs a workflow and draws its live timeline: stages, progress bar, intermediate and final
// images, a Cancel button while it runs, errors in words with the detail one click away.
import { call, commands, events, StudioError, thumb } from "./api";
import type { Operation } from "./bindings";
import { clear, h } from "./dom";
import { apply, empty, type EventLike, type Timeline } from "./timeline";
import { explain } from "./words";

export function errorBox(e: unknown): HTMLElement {
  const err = e instanceof StudioError ? e : new StudioError("ERROR", String(e), "");
  return h(
    "div",
    { class: "error", role: "alert" },
    h("strong", {}, explain(err.code, err.message)),
    h("details", {}, h("summary", {}, "Details"), h("pre", {}, `${err.code}: ${err.message}\n${err.detail}`)),
  );
}

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

function dispatch(workflow: string, body: unknown) {
  if (!(workflow in DISPATCH)) return Promise.reject(new StudioError("VALIDATION_ERROR", `there is no workflow called ${workflow}`, ""));
  return call(DISPATCH[workflow as Operation](body as never));
}

/** Dispatches and follows a job in `panel`; resolves to its id (undefined if refused). */
export async function runJob(panel: HTMLElement, workflow: string, body: unknown, onDone?: (t: Timeline) => void): Promise<string | undefined> {
  clear(panel, h("p", { class: "muted" }, `Sending ${workflow}…`));
  let accepted;
  try {
    accepted = await dispatch(workflow, body);
  } catch (e) {
    clear(panel, errorBox(e));
    return undefined;
  }
  const jobId = accepted.job_id;
  let t = empty();
  let reading = false;
  let again = false;
  const cancel = h("button", { class: "secondary", "data-testid": "cancel", onclick: async () => {
    try {
      await call(commands.cancel(jobId));
    } catch (e) {
      panel.append(errorBox(e));
    }
  } }, "Cancel");
  const draw = () => {
    const bar = h("div", { class: "bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": Math.round(t.progress * 100) });
    bar.append(h("div", { style: `width:${Math.round(t.progress * 100)}%` }));
    clear(
      panel,
      h("div", { class: "job-head" }, h("span", { class: `status ${t.status}`, "data-testid": "job-status" }, t.status), h("code", {}, jobId), t.status === "running" || t.status === "queued" ? cancel : null),
      bar,
      h("ol", { class: "stages" }, ...t.stages.map((s) => h("li", { class: s.done ? "done" : "current" }, h("b", {}, s.name), " ", s.message))),
      t.error ? errorBox(new StudioError(t.error.code, t.error.message, "")) : null,
      t.intermediates.length ? h("div", { class: "thumbs" }, ...t.intermediates.map((i) => h("figure", {}, h("img", { src: thumb(i.url), alt: i.label, loading: "lazy" }), h("figcaption", {}, i.label)))) : null,
      t.finals.length ? h("div", { class: "finals" }, ...t.finals.map((i) => h("figure", {}, h("img", { src: i.url, alt: i.label, "data-testid": "final" }), h("figcaption", {}, i.label)))) : null,
    );
  };
  const read = async () => {
    if (reading) { again = true; return; }
    reading = true;
    do {
      again = false;
      const page = await call(commands.jobEvents(jobId, t.cursor));
      t = apply(t, page.events as unknown as EventLike[]);
      draw();
    } while (again);
    reading = false;
    if ((t.status === "succeeded" || t.status === "failed") && onDone) onDone(t);
  };
  const unlisten = await events.jobChanged.listen((e) => {
    if (e.payload.job_id === jobId) void read().then(() => { if (e.payload.terminal) unlisten(); });
  });
  draw();
  await read(); // Whatever happened before the listener was attached.
  return jobId;
}
