// A job's events folded into what the timeline shows: one row per stage, progress, the end.
import type { UiCode } from "./bindings";
import { asCode } from "./codes";

export interface EventLike {
  seq: number;
  event_type: string;
  stage: string | null;
  message: string;
  artifacts: { kind: string; role: string; label: string; image_url: string }[];
  extra: unknown;
}

export interface Timeline {
  cursor: number;
  stages: { name: string; message: string; done: boolean }[];
  progress: number;
  status: "queued" | "running" | "succeeded" | "failed";
  /** Paused in the queue (a `paused` event), until `resumed` or started again. */
  held: boolean;
  error: { code: UiCode; message: string } | null;
  intermediates: { label: string; url: string }[];
  finals: { label: string; url: string; kind: string }[];
}

/** Stage events the queue writes, not the workflow: they are no step of the work. */
const QUEUE_STAGES = ["priority", "paused", "resumed", "requeued"];

export function empty(): Timeline {
  return { cursor: 0, stages: [], progress: 0, status: "queued", held: false, error: null, intermediates: [], finals: [] };
}

/** Applies events in order; events at or below the cursor are ignored, so re-reading is safe. */
export function apply(t: Timeline, events: EventLike[]): Timeline {
  const next: Timeline = { ...t, stages: t.stages.map((s) => ({ ...s })), intermediates: [...t.intermediates], finals: [...t.finals] };
  for (const e of [...events].sort((a, b) => a.seq - b.seq)) {
    if (e.seq <= next.cursor) continue;
    next.cursor = e.seq;
    const extra = (e.extra ?? {}) as Record<string, unknown>;
    if (typeof extra.progress === "number") next.progress = extra.progress;
    for (const a of e.artifacts ?? []) {
      const item = { label: a.label, url: a.image_url, kind: a.kind };
      if (a.role === "final") next.finals.push(item);
      else next.intermediates.push(item);
    }
    if (e.event_type === "stage" && e.stage !== null && QUEUE_STAGES.includes(e.stage)) {
      // The queue's own events: the job waits again (pause, resume, priority, a requeue).
      next.status = "queued";
      next.held = e.stage === "paused" || (next.held && e.stage === "priority");
      next.progress = 0;
    } else if (e.event_type === "stage") {
      next.status = "running";
      if (e.stage === "started") {
        // A fresh start (after a pause or a requeue) runs every stage again.
        next.held = false;
        next.stages = [];
        next.intermediates = [];
      }
      for (const s of next.stages) s.done = true;
      if (e.stage && e.stage !== "started") next.stages.push({ name: e.stage, message: e.message, done: false });
    } else if (e.event_type === "succeeded") {
      next.status = "succeeded";
      next.progress = 1;
      for (const s of next.stages) s.done = true;
    } else if (e.event_type === "failed") {
      next.status = "failed";
      const err = (extra.error ?? {}) as { code?: string; message?: string };
      next.error = { code: asCode(err.code) ?? "INTERNAL", message: err.message ?? e.message };
    }
  }
  return next;
}
