// What a job's timeline needs of a studio: the engine in this app (the generated commands) or a
// studio server's /v1 (remote.ts). Its own module, below both, so neither imports the other.
import type { DispatchAccepted, JobDetail_Serialize, JobEvents_Serialize } from "../bindings";

export interface TimelineBackend {
  dispatch(workflow: string, body: unknown): Promise<DispatchAccepted>;
  events(jobId: string, since: number): Promise<JobEvents_Serialize>;
  cancel(jobId: string): Promise<JobDetail_Serialize>;
  /** Calls back with the job id of every change; returns the unsubscribe. */
  onJobChanged(listener: (jobId: string) => void): Promise<() => void>;
}
