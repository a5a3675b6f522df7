import { afterEach, describe, expect, it } from "vitest";
import { flushSync, mount, unmount } from "svelte";
import QueuePanel from "../src/queue/QueuePanel.svelte";
import { inputName, priorityToRunLast, priorityToRunNext, progressOf, stateOf, type QueuedJob } from "../src/queue/order";
import { QueueStore, type QueueBackend } from "../src/queue/store.svelte";

function job(id: string, status: "NOT_STARTED" | "IN_PROGRESS", priority = 0, paused = false, progress = 0): QueuedJob {
  return {
    public_id: id, job_type: "BACKGROUND_GENERATOR", status, created_at: "", started_at: null, finished_at: null,
    credits_cost: 1, request: {}, result: [], priority, paused,
    latest_event: { seq: 1, event_type: "stage", visibility: "public", stage: "base", message: "", artifacts: [], extra: { progress }, created_at: "" },
  };
}

/** The engine's queue rules in miniature (tested for real in Rust): running first, then priority, then age. */
class Engine implements QueueBackend {
  listeners: (() => void)[] = [];
  calls: string[] = [];
  constructor(public jobs: QueuedJob[]) {}
  async queue() {
    const sorted = [...this.jobs].sort((a, b) =>
      Number(b.status === "IN_PROGRESS") - Number(a.status === "IN_PROGRESS") || b.priority - a.priority || a.public_id.localeCompare(b.public_id));
    return { jobs: sorted, limit: 500, offset: 0, count: sorted.length };
  }
  #find(id: string) {
    const j = this.jobs.find((j) => j.public_id === id);
    if (!j) throw new Error(`no job ${id}`);
    return j;
  }
  async setPriority(id: string, p: number) { this.calls.push(`priority ${id} ${p}`); const j = this.#find(id); j.priority = p; return j; }
  async pause(id: string) { this.calls.push(`pause ${id}`); const j = this.#find(id); j.paused = true; return j; }
  async resume(id: string) { this.calls.push(`resume ${id}`); const j = this.#find(id); j.paused = false; return j; }
  async cancel(id: string) { this.calls.push(`cancel ${id}`); const j = this.#find(id); this.jobs = this.jobs.filter((x) => x !== j); return j; }
  async onJobChanged(l: () => void) { this.listeners.push(l); return () => { this.listeners = this.listeners.filter((x) => x !== l); }; }
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe("the queue's ordering helpers", () => {
  const jobs = [job("A", "IN_PROGRESS", 0, false, 0.4), job("B", "NOT_STARTED", 2), job("C", "NOT_STARTED", 0), job("D", "NOT_STARTED", 0, true)];
  it("names each state and reads progress", () => {
    expect(jobs.map(stateOf)).toEqual(["running", "waiting", "waiting", "paused"]);
    expect(stateOf(job("E", "IN_PROGRESS", 0, true))).toBe("pausing");
    expect(progressOf(jobs[0])).toBeCloseTo(0.4);
  });
  it("runs a job next by outbidding the top waiting priority, or leaves it if already first", () => {
    expect(priorityToRunNext(jobs, jobs[2])).toBe(3);
    expect(priorityToRunNext(jobs, jobs[1])).toBe(2);
    // A tie goes to the older job: the older one is already ahead.
    expect(priorityToRunNext([job("B", "NOT_STARTED", 5), job("C", "NOT_STARTED", 5)], job("B", "NOT_STARTED", 5))).toBe(5);
    expect(priorityToRunNext([job("B", "NOT_STARTED", 100), job("C", "NOT_STARTED", 0)], job("C", "NOT_STARTED", 0))).toBe(100);
  });
  it("names a job by the first photo its request names", () => {
    expect(inputName({ ...jobs[0], request: { items: [{ trial_image: "uploads/01J/shirt.png" }], user_image: "uploads/01K/anna.jpg" } })).toBe("anna.jpg");
    expect(inputName({ ...jobs[0], request: { scene_type: "studio" } })).toBeNull();
  });
  it("runs a job last by undercutting the lowest", () => {
    expect(priorityToRunLast(jobs, jobs[1])).toBe(-1);
    expect(priorityToRunLast(jobs, jobs[3])).toBe(0);
  });
});

describe("the queue store", () => {
  it("mirrors the engine, re-reads on every job change, and reads once more for changes during a read", async () => {
    const engine = new Engine([job("A", "NOT_STARTED")]);
    const store = new QueueStore(engine);
    const stop = await store.follow();
    expect(store.jobs.map((j) => j.public_id)).toEqual(["A"]);
    engine.jobs.push(job("B", "NOT_STARTED"));
    engine.listeners.forEach((l) => l());
    engine.jobs.push(job("C", "NOT_STARTED"));
    engine.listeners.forEach((l) => l());
    await store.refresh();
    expect(store.jobs.map((j) => j.public_id)).toEqual(["A", "B", "C"]);
    stop();
    expect(engine.listeners).toHaveLength(0);
  });
  it("shows the engine's refusal and keeps the engine's order", async () => {
    const engine = new Engine([job("A", "NOT_STARTED")]);
    const store = new QueueStore(engine);
    await store.refresh();
    await store.pause("Z");
    expect(store.error).toBe("no job Z");
    expect(store.jobs.map((j) => j.public_id)).toEqual(["A"]);
  });
});

describe("the queue panel", () => {
  let panel: Record<string, unknown> | null = null;
  afterEach(() => { if (panel) unmount(panel); panel = null; document.body.innerHTML = ""; });

  it("lists jobs in run order and steers the engine: run next, pause, resume, cancel", async () => {
    const engine = new Engine([job("A", "IN_PROGRESS", 0, false, 0.5), job("B", "NOT_STARTED"), job("C", "NOT_STARTED"), job("D", "NOT_STARTED")]);
    panel = mount(QueuePanel, { target: document.body, props: { backend: engine, pollMs: 60_000 } });
    await settle(); flushSync();
    const rows = () => [...document.querySelectorAll<HTMLElement>("[data-testid=queue-job]")].map((r) => `${r.dataset.job}:${r.dataset.state}`);
    expect(rows()).toEqual(["A:running", "B:waiting", "C:waiting", "D:waiting"]);
    expect(document.querySelector<HTMLProgressElement>("[data-job=A] progress")!.value).toBeCloseTo(0.5);
    expect(document.querySelector("[data-job=A] [data-testid=queue-run-next]")).toBeNull();

    document.querySelector<HTMLButtonElement>("[data-job=D] [data-testid=queue-run-next]")!.click();
    await settle(); flushSync();
    expect(rows()).toEqual(["A:running", "D:waiting", "B:waiting", "C:waiting"]);
    document.querySelector<HTMLButtonElement>("[data-job=B] [data-testid=queue-pause]")!.click();
    await settle(); flushSync();
    expect(rows()).toContain("B:paused");
    document.querySelector<HTMLButtonElement>("[data-job=B] [data-testid=queue-resume]")!.click();
    await settle(); flushSync();
    document.querySelector<HTMLButtonElement>("[data-job=C] [data-testid=queue-cancel]")!.click();
    await settle(); flushSync();
    expect(rows()).toEqual(["A:running", "D:waiting", "B:waiting"]);
    expect(engine.calls).toEqual(["priority D 1", "pause B", "resume B", "cancel C"]);
  });

  it("says when nothing waits", async () => {
    panel = mount(QueuePanel, { target: document.body, props: { backend: new Engine([]), pollMs: 60_000 } });
    await settle(); flushSync();
    expect(document.querySelector("[data-testid=queue-empty]")).not.toBeNull();
  });
});
