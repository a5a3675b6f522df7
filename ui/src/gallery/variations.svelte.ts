// Variations of a render: the jobs a Vary (or an Upscale) dispatched, followed until each ends,
// so the canvas can show them side by side with the original as they arrive.
import type { DispatchAccepted, JobDetail_Serialize } from "../bindings";

export interface VariationBackend {
  vary(jobId: string, count: number): Promise<DispatchAccepted[]>;
  job(jobId: string): Promise<JobDetail_Serialize>;
}

export type Variation = { jobId: string; state: "running" | "done" | "failed"; imageUrl: string | null; message: string };

export class Variations {
  items = $state<Variation[]>([]);
  error = $state<string | null>(null);

  constructor(private backend: VariationBackend) {}

  async start(jobId: string, count: number): Promise<void> {
    await this.follow(this.backend.vary(jobId, count));
  }

  /** Follows the jobs `dispatched` answers with (or says why there are none). */
  async follow(dispatched: Promise<DispatchAccepted[]>): Promise<void> {
    try {
      const jobs = await dispatched;
      this.items = [...this.items, ...jobs.map((j) => ({ jobId: j.job_id, state: "running" as const, imageUrl: null, message: "waiting" }))];
      this.error = null;
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
    }
  }

  get running(): boolean {
    return this.items.some((v) => v.state === "running");
  }

  /** Re-reads every unfinished variation once. */
  async refresh(): Promise<void> {
    const updated = await Promise.all(this.items.map(async (v) => {
      if (v.state !== "running") return v;
      try {
        const job = await this.backend.job(v.jobId);
        if (job.status === "SUCCESS") return { ...v, state: "done" as const, imageUrl: job.result.find((a) => a.role === "final")?.image_url ?? null, message: "" };
        if (job.status === "FAILURE") return { ...v, state: "failed" as const, message: job.latest_event?.message ?? "failed" };
        return { ...v, message: job.latest_event?.stage ?? "waiting" };
      } catch (e) {
        return { ...v, message: e instanceof Error ? e.message : String(e) };
      }
    }));
    this.items = updated;
  }
}
