// The Figur /v1 SDK: a client typed from the checked-in OpenAPI document (openapi-typescript +
// openapi-fetch; no hand-written API types), an upload helper, and run(), which dispatches a
// workflow, follows its events by long-polling to a terminal state, and returns the result.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export type { components, paths };
export type JobEvent = components["schemas"]["JobEvent"];
export type Artifact = components["schemas"]["Artifact"];
export type Render = components["schemas"]["Render"];
type ErrorEnvelope = components["schemas"]["ErrorEnvelope"];

/** Every workflow path of the API, e.g. "try-on". */
export type Workflow = {
  [P in keyof paths]: P extends `/v1/${infer W}` ? (paths[P] extends { post: { responses: { 202: unknown } } } ? W : never) : never;
}[keyof paths];

/** The request body of a workflow, as the OpenAPI document defines it. */
export type WorkflowBody<W extends Workflow> = paths[`/v1/${W}`] extends { post: { requestBody?: { content: { "application/json": infer B } } } } ? B : never;

/** A failure with the envelope's stable `code` (or the job's error code). */
export class FigurError extends Error {
  constructor(
    public readonly code: string,
    message: string,
    public readonly status?: number,
    public readonly details?: unknown,
    public readonly jobId?: string,
  ) {
    super(`${code}: ${message}`);
    this.name = "FigurError";
  }
}

function fromEnvelope(status: number, body: unknown): FigurError {
  const e = (body as ErrorEnvelope | undefined)?.error;
  return new FigurError(e?.code ?? "HTTP_ERROR", e?.message ?? `HTTP ${status}`, status, e?.details);
}

export interface RunOptions {
  /** Called with every event, in order. */
  onEvent?: (event: JobEvent) => void;
  /** Aborts the wait (the job keeps running; cancel it with `cancel`). */
  signal?: AbortSignal;
  /** Seconds the server may hold each poll (long-poll); 0 polls every `pollIntervalMs`. */
  waitSeconds?: number;
  pollIntervalMs?: number;
  /** Gives up (FigurError TIMEOUT) after this long. */
  timeoutMs?: number;
}

export interface RunResult {
  jobId: string;
  /** The final artifacts (the render is the first for compose and edit workflows). */
  artifacts: Artifact[];
  /** The gallery render, for workflows that file one. */
  render?: Render;
  /** The succeeded event's extra: seed, provenance, catalog ids… */
  extra: unknown;
}

export interface FigurOptions {
  baseUrl: string;
  apiKey: string;
  fetch?: typeof fetch;
}

export function createFigur(opts: FigurOptions) {
  const baseUrl = opts.baseUrl.replace(/\/$/, "");
  const headers = { Authorization: `Bearer ${opts.apiKey}` };
  const client = createClient<paths>({ baseUrl, headers, fetch: opts.fetch });

  async function upload(data: Blob | Uint8Array, fileName: string): Promise<components["schemas"]["UploadAccepted"]> {
    const form = new FormData();
    form.append("file", data instanceof Blob ? data : new Blob([Uint8Array.from(data)]), fileName);
    const r = await (opts.fetch ?? fetch)(`${baseUrl}/v1/uploads`, { method: "POST", headers, body: form });
    const body = await r.json().catch(() => undefined);
    if (!r.ok) throw fromEnvelope(r.status, body);
    return body as components["schemas"]["UploadAccepted"];
  }

  async function dispatch<W extends Workflow>(workflow: W, body: WorkflowBody<W>): Promise<string> {
    const r = await (opts.fetch ?? fetch)(`${baseUrl}/v1/${workflow}`, {
      method: "POST",
      headers: { ...headers, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const reply = await r.json().catch(() => undefined);
    if (r.status !== 202) throw fromEnvelope(r.status, reply);
    return (reply as components["schemas"]["DispatchAccepted"]).job_id;
  }

  async function cancel(jobId: string): Promise<void> {
    const { error, response } = await client.POST("/v1/jobs/{public_id}/cancel", { params: { path: { public_id: jobId } } });
    if (error) throw fromEnvelope(response.status, error);
  }

  /** Dispatches `workflow` and resolves when it succeeds; throws FigurError when it fails. */
  async function run<W extends Workflow>(workflow: W, body: WorkflowBody<W>, o: RunOptions = {}): Promise<RunResult> {
    const jobId = await dispatch(workflow, body);
    const deadline = o.timeoutMs ? Date.now() + o.timeoutMs : Infinity;
    const wait = o.waitSeconds ?? 25;
    let since = 0;
    for (;;) {
      if (o.signal?.aborted) throw new FigurError("ABORTED", "the wait was aborted", undefined, undefined, jobId);
      if (Date.now() > deadline) throw new FigurError("TIMEOUT", `job ${jobId} did not finish in time`, undefined, undefined, jobId);
      const { data, error, response } = await client.GET("/v1/jobs/{public_id}/events", {
        params: { path: { public_id: jobId }, query: { since, wait } },
        headers: { Accept: "application/json" },
        signal: o.signal,
      });
      if (error || !data) throw fromEnvelope(response.status, error);
      // JSON, not the Server-Sent Events form of the same endpoint.
      const page = data as components["schemas"]["JobEvents"];
      for (const e of page.events) {
        since = Math.max(since, e.seq);
        o.onEvent?.(e);
        if (e.event_type === "failed") {
          const err = (e.extra as { error?: { code?: string; message?: string } }).error ?? {};
          throw new FigurError(err.code ?? "FAILED", err.message ?? e.message, undefined, e.extra, jobId);
        }
        if (e.event_type === "succeeded") {
          let render: Render | undefined;
          const r = await client.GET("/v1/renders/{public_id}", { params: { path: { public_id: jobId } } });
          if (r.data) render = r.data;
          return { jobId, artifacts: e.artifacts, render, extra: e.extra };
        }
      }
      if (wait === 0) await new Promise((res) => setTimeout(res, o.pollIntervalMs ?? 500));
    }
  }

  return { client, upload, dispatch, run, cancel };
}
