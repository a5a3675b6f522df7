// The engine behind the Svelte screens' stores: this machine's, through the generated commands
// (errors turned into exceptions by `call`), or a studio server's /v1 API when Settings connected
// the desktop to one (`remote.ts`). Tests give the stores stand-ins with the same shape.
import { call, commands, events } from "./api";
import { server } from "./server";
import { PAGE, type LibraryBackend, type LibraryItem } from "./library/store.svelte";
import type { QueueBackend } from "./queue/store.svelte";
import type { RenderBackend } from "./gallery/render_info";
import type { FirstRunBackend } from "./start/first_run";
import type { GenerativeBackend } from "./generative_settings";

const localLibrary: LibraryBackend = {
  page: (search, offset, limit) => call(commands.library(search, offset, limit)),
  tags: () => call(commands.libraryTags()),
  edit: (uploadKey, edit) => call(commands.editUpload(uploadKey, edit)),
};

const localQueue: QueueBackend = {
  queue: () => call(commands.queue()),
  setPriority: (jobId, priority) => call(commands.setPriority(jobId, priority)),
  pause: (jobId) => call(commands.pause(jobId)),
  resume: (jobId) => call(commands.resume(jobId)),
  cancel: (jobId) => call(commands.cancel(jobId)),
  onJobChanged: (listener) => events.jobChanged.listen(() => listener()),
};

const localRenders: RenderBackend = {
  renders: (offset, limit) => call(commands.renders(offset, limit)),
  exportRender: (renderId, format) => call(commands.exportRender(renderId, format)),
  useAsInput: (renderId) => call(commands.useAsInput(renderId)),
  provenance: async (jobId) => {
    const job = await call(commands.job(jobId));
    return (job.latest_event?.extra as { provenance?: unknown } | undefined)?.provenance ?? null;
  },
  upscale: (renderId, scale) => call(commands.upscale({ source_image_s3_key: null, source_render_public_id: renderId, scale })),
  vary: (jobId, count) => call(commands.vary(jobId, count)),
  job: (jobId) => call(commands.job(jobId)),
  onJobChanged: (listener) => events.jobChanged.listen(() => listener()),
};

const localGenerative: GenerativeBackend = {
  view: () => commands.generativeModels(),
  setDefault: (key, model) => call(commands.setDefaultModel(key, model)),
  local: true,
};

export const libraryBackend: LibraryBackend = server?.library ?? localLibrary;
export const generativeBackend: GenerativeBackend = server?.generative ?? localGenerative;
export const queueBackend: QueueBackend = server?.queue ?? localQueue;
export const renderBackend: RenderBackend = server?.renders ?? localRenders;

/** Every image of the library (this machine's or the server's), newest first, a page at a time. */
export async function wholeLibrary(): Promise<LibraryItem[]> {
  const items: LibraryItem[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await libraryBackend.page({}, offset, PAGE);
    items.push(...page.uploads);
    if (page.count < PAGE) return items;
  }
}

/** Photos and folders on this machine into the library — the server's, when connected. */
export const importPaths = (paths: string[]) =>
  server
    ? call(commands.importPathsTo(server.connection.url, server.connection.key, paths))
    : call(commands.importPaths(paths));

export const firstRunBackend: FirstRunBackend = {
  models: () => commands.models(),
  fetchModels: async () => { await call(commands.fetchModels()); },
  onProgress: (listener) => events.modelsProgress.listen((e) => listener(e.payload.line, e.payload.done, e.payload.failed)),
  importSamples: () => call(commands.importSamples()),
};
