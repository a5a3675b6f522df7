// What the queue panel shows and what its buttons ask the engine for. The engine runs waiting
// jobs by priority (higher first), then age; these helpers turn "run this next" and "run this
// last" into the priority that does it, within the engine's range.
import type { JobDetail_Serialize } from "../bindings";

export type QueuedJob = JobDetail_Serialize;

export const PRIORITY_MIN = -100;
export const PRIORITY_MAX = 100;

export type JobState = "running" | "pausing" | "waiting" | "paused";

export function stateOf(job: QueuedJob): JobState {
  if (job.status === "IN_PROGRESS") return job.paused ? "pausing" : "running";
  return job.paused ? "paused" : "waiting";
}

/** The latest progress a job reported, 0–1. */
export function progressOf(job: QueuedJob): number {
  const p = (job.latest_event?.extra as { progress?: unknown } | undefined)?.progress;
  return typeof p === "number" && p >= 0 ? Math.min(1, p) : 0;
}

const clamp = (p: number) => Math.max(PRIORITY_MIN, Math.min(PRIORITY_MAX, p));

function waiting(jobs: QueuedJob[], except: string): QueuedJob[] {
  return jobs.filter((j) => j.status === "NOT_STARTED" && j.public_id !== except);
}

/** The priority that puts `job` ahead of every other waiting job (its own if it already is). */
export function priorityToRunNext(jobs: QueuedJob[], job: QueuedJob): number {
  const others = waiting(jobs, job.public_id);
  if (!others.length) return job.priority;
  const top = Math.max(...others.map((j) => j.priority));
  const ahead = job.priority > top || (job.priority === top && others.every((j) => j.priority < top || j.public_id > job.public_id));
  return ahead ? job.priority : clamp(top + 1);
}

/** The priority that puts `job` behind every other waiting job (its own if it already is). */
export function priorityToRunLast(jobs: QueuedJob[], job: QueuedJob): number {
  const others = waiting(jobs, job.public_id);
  if (!others.length) return job.priority;
  const bottom = Math.min(...others.map((j) => j.priority));
  const behind = job.priority < bottom || (job.priority === bottom && others.every((j) => j.priority > bottom || j.public_id < job.public_id));
  return behind ? job.priority : clamp(bottom - 1);
}

/** The file name of the first upload a job's request names (what a designer recognises it by). */
export function inputName(job: QueuedJob): string | null {
  const seen: unknown[] = [job.request];
  while (seen.length) {
    const v = seen.shift();
    if (typeof v === "string") {
      const m = /^uploads\/[^/]+\/(.+)$/.exec(v);
      if (m) return m[1];
    } else if (v && typeof v === "object") {
      seen.push(...Object.values(v as Record<string, unknown>));
    }
  }
  return null;
}
