// Running a workflow from any screen: the typed command per workflow, and a timeline mounted
// where the screen wants it.
import { mount, unmount } from "svelte";
import { call, commands, events, StudioError } from "../api";
import type { Operation } from "../bindings";
import type { Timeline as TimelineState } from "../timeline";
import type { Camel, RequestOf, TimelineBackend } from "./backend";
import Timeline from "./Timeline.svelte";
import { server } from "../server";


// Each workflow's generated command is named after it (`background-swap-with-spec` →
// `backgroundSwapWithSpec`), so dispatch finds it by name. Checked here: a workflow in the
// engine's `Operation` without its command does not type-check (the type names it).
type Missing = Exclude<Camel<Operation>, keyof typeof commands>;
export const EVERY_WORKFLOW_HAS_ITS_COMMAND: [Missing] extends [never] ? true : Missing = true;

function commandOf(workflow: string): ((request: never) => ReturnType<typeof commands.tryOn>) | undefined {
  const name = workflow.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const found: unknown = (commands as Record<string, unknown>)[name];
  return typeof found === "function" ? (found as (request: never) => ReturnType<typeof commands.tryOn>) : undefined;
}

const localTimeline: TimelineBackend = {
  dispatch: (workflow, body) => {
    const command = commandOf(workflow);
    if (!command) return Promise.reject(new StudioError("VALIDATION_ERROR", `there is no workflow called ${workflow}`, ""));
    return call(command(body as never));
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
