// The queue as the desktop sees it: every waiting and running job in run order, re-read from
// the engine whenever a job changes (the `JobChanged` events), and the actions that steer it.
// The engine is the record; this store only mirrors it and never reorders on its own.
import type { JobList_Serialize, JobDetail_Serialize } from "../bindings";
import { priorityToRunLast, priorityToRunNext, type QueuedJob } from "./order";

/** The engine calls the store needs (the generated commands, or a test's stand-in). */
export interface QueueBackend {
  queue(): Promise<JobList_Serialize>;
  setPriority(jobId: string, priority: number): Promise<JobDetail_Serialize>;
  pause(jobId: string): Promise<JobDetail_Serialize>;
  resume(jobId: string): Promise<JobDetail_Serialize>;
  cancel(jobId: string): Promise<JobDetail_Serialize>;
  /** Calls back on every job change; returns the unsubscribe. */
  onJobChanged(listener: () => void): Promise<() => void>;
}

export class QueueStore {
  jobs = $state<QueuedJob[]>([]);
  error = $state<string | null>(null);
  loaded = $state(false);
  #reading: Promise<void> | null = null;
  #again = false;

  constructor(private backend: QueueBackend) {}

  /** Re-reads the queue; changes that arrive while a read is under way cause one more read. */
  refresh(): Promise<void> {
    if (this.#reading) {
      this.#again = true;
      return this.#reading;
    }
    this.#reading = (async () => {
      do {
        this.#again = false;
        try {
          this.jobs = (await this.backend.queue()).jobs;
          this.error = null;
        } catch (e) {
          this.error = e instanceof Error ? e.message : String(e);
        }
      } while (this.#again);
      this.loaded = true;
      this.#reading = null;
    })();
    return this.#reading;
  }

  /** Follows job changes until the returned function is called. */
  async follow(): Promise<() => void> {
    const stop = await this.backend.onJobChanged(() => void this.refresh());
    await this.refresh();
    return stop;
  }

  #job(id: string): QueuedJob | undefined {
    return this.jobs.find((j) => j.public_id === id);
  }

  /** Runs one action, then re-reads; the action's refusal stays shown past the re-read. */
  async #act(run: () => Promise<unknown>): Promise<void> {
    let refused: string | null = null;
    try {
      await run();
    } catch (e) {
      refused = e instanceof Error ? e.message : String(e);
    }
    await this.refresh();
    if (refused) this.error = refused;
  }

  runNext(id: string) {
    const job = this.#job(id);
    return job ? this.#act(() => this.backend.setPriority(id, priorityToRunNext(this.jobs, job))) : Promise.resolve();
  }
  runLast(id: string) {
    const job = this.#job(id);
    return job ? this.#act(() => this.backend.setPriority(id, priorityToRunLast(this.jobs, job))) : Promise.resolve();
  }
  setPriority(id: string, priority: number) {
    return this.#act(() => this.backend.setPriority(id, priority));
  }
  pause(id: string) {
    return this.#act(() => this.backend.pause(id));
  }
  resume(id: string) {
    return this.#act(() => this.backend.resume(id));
  }
  cancel(id: string) {
    return this.#act(() => this.backend.cancel(id));
  }
}
