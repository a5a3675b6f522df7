// A studio server (farm mode, or a colleague's `figur serve`): the same backends the screens
// use, over its /v1 API instead of this machine's engine. Connected, the library, queue,
// gallery and every workflow the screens dispatch are the server's, shared with everyone on it.
import createClient, { type Client } from "openapi-fetch";
import type { paths } from "../../sdk/src/schema";
import { asCode, call, commands, StudioError } from "./api";
import type {
  JobDetail_Serialize,
  LibraryEdit_Deserialize,
  LibrarySearch_Deserialize,
  RenderList_Serialize,
  UploadAccepted,
} from "./bindings";
import type { RenderBackend } from "./gallery/render_info";
import type { GenerativeBackend } from "./generative_settings";
import type { TimelineBackend } from "./job/backend";
import type { LibraryBackend } from "./library/store.svelte";
import type { QueueBackend } from "./queue/store.svelte";

/** Where the server is and the API key this desktop uses on it. */
export interface Connection {
  url: string;
  key: string;
}

/** Saves a render into this machine's Pictures folder (the desktop's command downloads it). */
export type Exporter = (renderId: string, format: string) => Promise<string>;

/**
 * Where an earlier version kept the connection, key included, in the webview's storage: read
 * once to move it into the system keyring (`server.ts`), then removed.
 */
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

/** What openapi-fetch answers: the body, or the error envelope, and the response. */
type Answer<T> = { data?: T; error?: unknown; response: Response };

/**
 * An answer as the studio sends it. `openapi.json` lists a field that may be null as not
 * required; the studio's answers always carry every field (the engine skips none: an absent
 * value is `null`), which is what the generated bindings' types say. This is that fact, typed.
 */
type Sent<T> = T extends (infer U)[] ? Sent<U>[] : T extends object ? { [K in keyof T]-?: Sent<Exclude<T[K], undefined>> } : T;

/**
 * One server, through a client typed from `openapi.json` (the SDK's generated `paths`): every
 * path, parameter and body below is checked against the contract; the error envelope becomes
 * a `StudioError` with its code.
 */
export class RemoteStudio {
  private readonly api: Client<paths>;

  constructor(
    public readonly connection: Connection,
    private readonly fetchFn: Fetch = (...a) => fetch(...a),
    /** Where the key is kept, in a sentence (the keyring, or the fallback file and why). */
    public readonly note = "",
    private readonly exporter: Exporter = (renderId, format) => call(commands.exportRender(renderId, format)),
  ) {
    this.api = createClient<paths>({
      baseUrl: connection.url,
      headers: { authorization: `Bearer ${connection.key}` },
      fetch: (request) => this.fetchFn(request),
    });
  }

  /** The answer's body, or the envelope (or the silence) as a `StudioError`. */
  private async answer<T>(call: Promise<Answer<T>>): Promise<Sent<T>> {
    let got: Answer<T>;
    try {
      got = await call;
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new StudioError("UNAVAILABLE", `The studio server at ${this.connection.url} does not answer (${why}).`, "");
    }
    if (got.response.ok) return got.data as Sent<T>;
    const error = (got.error as { error?: { code?: string; message?: string; details?: unknown[] } } | undefined)?.error;
    const status = got.response.status;
    throw new StudioError(asCode(error?.code) ?? "SERVER_UNEXPECTED", error?.message ?? `The server answered ${status}.`, JSON.stringify(error?.details ?? []));
  }

  /** Checks the address and the key; says what was found (the balance, to show it works). */
  async check(): Promise<string> {
    const credits = await this.answer(this.api.GET("/v1/credits"));
    return `Connected to ${this.connection.url}: ${credits.balance} credits.`;
  }

  upload(file: Blob, name: string): Promise<UploadAccepted> {
    const form = new FormData();
    form.append("file", file, name);
    // The multipart body is built here; openapi-fetch passes a FormData through as it is.
    return this.answer(this.api.POST("/v1/uploads", { body: form as never, bodySerializer: (b) => b as unknown as FormData }));
  }

  readonly library: LibraryBackend = {
    page: (search: LibrarySearch_Deserialize, offset: number, limit: number) =>
      this.answer(
        this.api.GET("/v1/uploads", {
          params: {
            query: {
              offset,
              limit: Math.min(limit, API_PAGE),
              q: search.text || undefined,
              tag: search.tag || undefined,
              favourite: search.favourite ?? undefined,
              folder: search.folder || undefined,
            },
          },
        }),
      ),
    tags: () => this.answer(this.api.GET("/v1/tags")),
    edit: (uploadKey: string, edit: LibraryEdit_Deserialize) =>
      this.answer(
        this.api.PATCH("/v1/uploads/{upload_key}", {
          params: { path: { upload_key: uploadKey } },
          body: edit,
        }),
      ),
  };

  readonly queue: QueueBackend = {
    queue: () => this.answer(this.api.GET("/v1/queue", { params: { query: { limit: API_PAGE } } })),
    setPriority: (jobId, priority) =>
      this.answer(this.api.POST("/v1/jobs/{public_id}/priority", { params: { path: { public_id: jobId } }, body: { priority } })),
    pause: (jobId) => this.answer(this.api.POST("/v1/jobs/{public_id}/pause", { params: { path: { public_id: jobId } } })),
    resume: (jobId) => this.answer(this.api.POST("/v1/jobs/{public_id}/resume", { params: { path: { public_id: jobId } } })),
    cancel: (jobId) => this.answer(this.api.POST("/v1/jobs/{public_id}/cancel", { params: { path: { public_id: jobId } } })),
    onJobChanged: (listener) => this.watch(() => listener()),
  };

  readonly renders: RenderBackend = {
    // The screens ask for pages of any size; the API's are at most 200.
    renders: async (offset, limit) => {
      const all: RenderList_Serialize = { renders: [], count: 0, limit, offset };
      for (let at = offset; at < offset + limit; at += API_PAGE) {
        const size = Math.min(API_PAGE, offset + limit - at);
        const page = await this.answer(this.api.GET("/v1/renders", { params: { query: { offset: at, limit: size } } }));
        all.renders.push(...page.renders);
        if (page.renders.length < size) break;
      }
      all.count = all.renders.length;
      return all;
    },
    // The desktop downloads the server's render and saves it into this machine's Pictures folder.
    exportRender: (renderId, format) => this.exporter(renderId, format),
    // The render's image, downloaded and uploaded again: a library image on the server.
    useAsInput: async (renderId) => {
      const render = await this.answer(this.api.GET("/v1/renders/{public_id}", { params: { path: { public_id: renderId } } }));
      const image = await this.fetchFn(render.image_url);
      if (!image.ok) throw new StudioError("UNAVAILABLE", `The render's image could not be read (${image.status}).`, "");
      return this.upload(await image.blob(), `${renderId}.png`);
    },
    provenance: async (jobId) => {
      const job = await this.answer(this.api.GET("/v1/jobs/{public_id}", { params: { path: { public_id: jobId } } }));
      return (job.latest_event?.extra as { provenance?: unknown } | undefined)?.provenance ?? null;
    },
    upscale: (renderId, scale) =>
      this.answer(this.api.POST("/v1/upscale", { body: { source_render_public_id: renderId, scale } })),
    vary: async (jobId, count) =>
      (await this.answer(this.api.POST("/v1/jobs/{public_id}/vary", { params: { path: { public_id: jobId } }, body: { count } }))).jobs,
    job: (jobId) => this.answer(this.api.GET("/v1/jobs/{public_id}", { params: { path: { public_id: jobId } } })),
    onJobChanged: (listener) => this.watch(() => listener()),
  };

  // The server's models (added there with `figur models add`) and the defaults its dispatches take.
  readonly generative: GenerativeBackend = {
    view: () => this.answer(this.api.GET("/v1/generative-models")),
    setDefault: (key, model) =>
      this.answer(this.api.PUT("/v1/generative-models/defaults/{use}", { params: { path: { use: key } }, body: { model } })),
    local: false,
  };

  readonly timeline: TimelineBackend = {
    // The workflow's path is the engine's `Operation` (the generated list): any of them is a
    // `POST /v1/{operation}` with its request body, which the server checks.
    dispatch: (workflow, body) =>
      this.answer(this.api.POST(`/v1/${workflow}` as "/v1/background-generator", { body: body as never })),
    events: async (jobId, since) => {
      // JSON unless an event stream is asked for (it is not, here).
      const page = await this.answer(this.api.GET("/v1/jobs/{public_id}/events", { params: { path: { public_id: jobId }, query: { since } } }));
      if (!("events" in page)) throw new StudioError("SERVER_UNEXPECTED", "The server answered a page of events with something else.", "");
      return page;
    },
    cancel: (jobId) => this.answer(this.api.POST("/v1/jobs/{public_id}/cancel", { params: { path: { public_id: jobId } } })),
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
      jobs = (await this.answer(this.api.GET("/v1/jobs", { params: { query: { limit: API_PAGE } } }))).jobs;
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
