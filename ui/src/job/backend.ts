// What a job's timeline needs of a studio: the engine in this app (the generated commands) or a
// studio server's /v1 (remote.ts). Its own module, below both, so neither imports the other.
import type { commands, DispatchAccepted, JobDetail_Serialize, JobEvents_Serialize, Operation } from "../bindings";

/** `background-swap-with-spec` → `backgroundSwapWithSpec`: a workflow's generated command. */
export type Camel<S extends string> = S extends `${infer A}-${infer B}` ? `${A}${Capitalize<Camel<B>>}` : S;

/** A workflow's request body: its generated command's argument (the engine's request type). */
export type RequestOf<W extends Operation> = Parameters<(typeof commands)[Camel<W>]>[0];

/** Runs `workflow` with a body of its own request type, checked where the body is written. */
export type RunWorkflow = <W extends Operation>(panel: HTMLElement, workflow: W, body: RequestOf<W>) => void;

export interface TimelineBackend {
  dispatch<W extends Operation>(workflow: W, body: RequestOf<W>): Promise<DispatchAccepted>;
  events(jobId: string, since: number): Promise<JobEvents_Serialize>;
  cancel(jobId: string): Promise<JobDetail_Serialize>;
  /** Calls back with the job id of every change; returns the unsubscribe. */
  onJobChanged(listener: (jobId: string) => void): Promise<() => void>;
}
