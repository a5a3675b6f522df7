// A studio server (farm mode, or a colleague's `figur serve`): the same backends the screens
// use, over its /v1 API instead of this machine's engine. Connected, the library, queue,
// gallery and every workflow the screens dispatch are the server's, shared with everyone on it.
import { asCode, StudioError } from "./api";
import type {
  DispatchAccepted,
  JobDetail_Serialize,
  JobEvents_Serialize,
  JobList_Serialize,
  LibraryEdit_Deserialize,
  LibrarySearch_Deserialize,
  RenderList_Serialize,
  TagCount,
  UploadAccepted,
  UploadList_Serialize,
} from "./bindings";
import type { RenderBackend } from "./gallery/render_info";
import type { TimelineBackend } from "./job/backend";
import type { LibraryBackend } from "./library/store.svelte";
import type { QueueBackend } from "./queue/store.svelte";

/** Where the server is and the API key this desktop uses on it. */
export interface Connection {
  url: string;
  key: string;
}

const STORAGE_KEY = "figur.server";
/** Most items one page of a /v1 list returns. */
const API_PAGE = 200;
/** How often the server is asked what changed (it has no push to a desktop but SSE per job). */
export const POLL_MS = 1000;

export function savedConnection(storage: Storage): Connection | null {
  try {
    const saved: unknown = JSON.parse(storage.getItem(STORAGE_KEY) ?? "null");
    const c = saved as Partial<Connection> | null;
    return c && typeof c.url === "string" && typeof c.key === "string" ? { url: c.url, key: c.key } : null;
  } catch {
    return null;
  }
}

export function saveConnection(storage: Storage, connection: Connection | null): void {
  if (connection) storage.setItem(STORAGE_KEY, JSON.stringify(connection));
  else storage.removeItem(STORAGE_KEY);
}

/** The server's base URL as typed (`studio.local:8686`, `https://host/`): scheme added, no trailing slash. */
export function normalizeUrl(typed: string): string {
  const t = typed.trim().replace(/\/+$/, "").replace(/\/v1$/, "");
  if (!t) throw new StudioError("VALIDATION_ERROR", "Give the server's address, e.g. https://studio.local:8686.", "");
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(t) ? t : `https://${t}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new StudioError("VALIDATION_ERROR", `"${typed}" is not an address.`, "");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new StudioError("VALIDATION_ERROR", "The address must start with https:// (or http://).", "");
  }
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, "")}`;
}

type Fetch = typeof fetch;

/** One server: requests with the key, the error envelope turned into a `StudioError`. */
export class RemoteStudio {
  constructor(public readonly connection: Connection, private readonly fetchFn: Fetch = (...a) => fetch(...a)) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.connection.key}` };
    let payload: BodyInit | undefined;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(body);
    }
    let answer: Response;
    try {
      answer = await this.fetchFn(`${this.connection.url}${path}`, { method, headers, body: payload });
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new StudioError("UNAVAILABLE", `The studio server at ${this.connection.url} does not answer (${why}).`, "");
    }
    const text = await answer.text();
    const parsed: unknown = text ? JSON.parse(text) : null;
    if (!answer.ok) {
      const error = (parsed as { error?: { code?: string; message?: string; details?: unknown[] } } | null)?.error;
      throw new StudioError(asCode(error?.code) ?? "SERVER_UNEXPECTED", error?.message ?? `The server answered ${answer.status}.`, JSON.stringify(error?.details ?? []));
    }
    return parsed as T;
  }

  /** Checks the address and the key; says what was found (the balance, to show it works). */
  async check(): Promise<string> {
    const credits = await this.request<{ balance: number }>("GET", "/v1/credits");
    return `Connected to ${this.connection.url}: ${credits.balance} credits.`;
  }

  upload(file: Blob, name: string): Promise<UploadAccepted> {
    const form = new FormData();
    form.append("file", file, name);
    return this.request("POST", "/v1/uploads", form);
  }

  readonly library: LibraryBackend = {
    page: (search: LibrarySearch_Deserialize, offset: number, limit: number) => {
      const q = new URLSearchParams({ offset: String(offset), limit: String(Math.min(limit, API_PAGE)) });
      if (search.text) q.set("q", search.text);
      if (search.tag) q.set("tag", search.tag);
      if (search.favourite !== null && search.favourite !== undefined) q.set("favourite", String(search.favourite));
      if (search.folder) q.set("folder", search.folder);
      return this.request<UploadList_Serialize>("GET", `/v1/uploads?${q}`);
    },
    tags: () => this.request<TagCount[]>("GET", "/v1/tags"),
    edit: (uploadKey: string, edit: LibraryEdit_Deserialize) =>
      this.request("PATCH", `/v1/uploads/${uploadKey.split("/").map(encodeURIComponent).join("/")}`, edit),
  };

  readonly queue: QueueBackend = {
    queue: () => this.request<JobList_Serialize>("GET", `/v1/queue?limit=${API_PAGE}`),
    setPriority: (jobId, priority) => this.request("POST", `/v1/jobs/${jobId}/priority`, { priority }),
    pause: (jobId) => this.request("POST", `/v1/jobs/${jobId}/pause`),
    resume: (jobId) => this.request("POST", `/v1/jobs/${jobId}/resume`),
    cancel: (jobId) => this.request("POST", `/v1/jobs/${jobId}/cancel`),
    onJobChanged: (listener) => this.watch(() => listener()),
  };

  readonly renders: RenderBackend = {
    // The screens ask for pages of any size; the API's are at most 200.
    renders: async (offset, limit) => {
      const all: RenderList_Serialize = { renders: [], count: 0, limit, offset };
      for (let at = offset; at < offset + limit; at += API_PAGE) {
        const size = Math.min(API_PAGE, offset + limit - at);
        const page = await this.request<RenderList_Serialize>("GET", `/v1/renders?offset=${at}&limit=${size}`);
        all.renders.push(...page.renders);
        if (page.renders.length < size) break;
      }
      all.count = all.renders.length;
      return all;
    },
    exportRender: () =>
      Promise.reject(new StudioError("NOT_ON_A_SERVER", "Export saves into this machine's Pictures folder; on a studio server, open the render's image and save it from there.", "")),
    // The render's image, downloaded and uploaded again: a library image on the server.
    useAsInput: async (renderId) => {
      const render = await this.request<{ image_url: string }>("GET", `/v1/renders/${renderId}`);
      const image = await this.fetchFn(render.image_url);
      if (!image.ok) throw new StudioError("UNAVAILABLE", `The render's image could not be read (${image.status}).`, "");
      return this.upload(await image.blob(), `${renderId}.png`);
    },
    provenance: async (jobId) => {
      const job = await this.request<JobDetail_Serialize>("GET", `/v1/jobs/${jobId}`);
      return (job.latest_event?.extra as { provenance?: unknown } | undefined)?.provenance ?? null;
    },
    vary: async (jobId, count) => (await this.request<{ jobs: DispatchAccepted[] }>("POST", `/v1/jobs/${jobId}/vary`, { count })).jobs,
    job: (jobId) => this.request<JobDetail_Serialize>("GET", `/v1/jobs/${jobId}`),
    onJobChanged: (listener) => this.watch(() => listener()),
  };

  readonly timeline: TimelineBackend = {
    dispatch: (workflow, body) => this.request<DispatchAccepted>("POST", `/v1/${workflow}`, body),
    events: (jobId, since) => this.request<JobEvents_Serialize>("GET", `/v1/jobs/${jobId}/events?since=${since}`),
    cancel: (jobId) => this.request("POST", `/v1/jobs/${jobId}/cancel`),
    onJobChanged: (listener) => this.watch((changed) => changed.forEach(listener)),
  };

  #listeners = new Set<(changed: string[]) => void>();
  #timer: ReturnType<typeof setInterval> | null = null;
  /** Each recent job's latest seq as last seen. */
  #seen = new Map<string, number>();

  /**
   * Calls `listener` with the ids of the jobs whose latest event moved, found by asking the
   * server for its newest jobs every second (one poll for all the screens' listeners). The
   * first poll names every job: a listener that subscribed after reading its state cannot miss
   * a change made in between.
   */
  watch(listener: (changed: string[]) => void): Promise<() => void> {
    this.#listeners.add(listener);
    if (!this.#timer) this.#timer = setInterval(() => void this.poll(), POLL_MS);
    return Promise.resolve(() => {
      this.#listeners.delete(listener);
      if (!this.#listeners.size && this.#timer) {
        clearInterval(this.#timer);
        this.#timer = null;
      }
    });
  }

  /** One look at the newest jobs; the listeners hear of those that moved, if any did. */
  async poll(): Promise<void> {
    let jobs: JobDetail_Serialize[];
    try {
      jobs = (await this.request<JobList_Serialize>("GET", `/v1/jobs?limit=${API_PAGE}`)).jobs;
    } catch {
      return; // the next poll tries again; the screens show their own errors
    }
    const seen = this.#seen;
    const changed = jobs.filter((job) => seen.get(job.public_id) !== (job.latest_event?.seq ?? 0)).map((job) => job.public_id);
    for (const job of jobs) seen.set(job.public_id, job.latest_event?.seq ?? 0);
    if (!changed.length) return;
    for (const listener of [...this.#listeners]) listener(changed);
  }
}
