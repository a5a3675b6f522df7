// The engine behind the Svelte screens' stores: the generated commands, errors turned into
// exceptions (`call`). Tests give the stores stand-ins with the same shape.
import { call, commands, events } from "./api";
import type { LibraryBackend } from "./library/store.svelte";
import type { QueueBackend } from "./queue/store.svelte";
import type { RenderBackend } from "./gallery/render_info";
import type { FirstRunBackend } from "./start/first_run";

export const libraryBackend: LibraryBackend = {
  page: (search, offset, limit) => call(commands.library(search, offset, limit)),
  tags: () => call(commands.libraryTags()),
  edit: (uploadKey, edit) => call(commands.editUpload(uploadKey, edit)),
};

export const queueBackend: QueueBackend = {
  queue: () => call(commands.queue()),
  setPriority: (jobId, priority) => call(commands.setPriority(jobId, priority)),
  pause: (jobId) => call(commands.pause(jobId)),
  resume: (jobId) => call(commands.resume(jobId)),
  cancel: (jobId) => call(commands.cancel(jobId)),
  onJobChanged: (listener) => events.jobChanged.listen(() => listener()),
};

export const importPaths = (paths: string[]) => call(commands.importPaths(paths));

export const renderBackend: RenderBackend = {
  renders: (offset, limit) => call(commands.renders(offset, limit)),
  exportRender: (renderId, format) => call(commands.exportRender(renderId, format)),
  useAsInput: (renderId) => call(commands.useAsInput(renderId)),
  provenance: async (jobId) => {
    const job = await call(commands.job(jobId));
    return (job.latest_event?.extra as { provenance?: unknown } | undefined)?.provenance ?? null;
  },
  vary: (jobId, count) => call(commands.vary(jobId, count)),
  job: (jobId) => call(commands.job(jobId)),
  onJobChanged: (listener) => events.jobChanged.listen(() => listener()),
};

export const firstRunBackend: FirstRunBackend = {
  models: () => commands.models(),
  fetchModels: async () => { await call(commands.fetchModels()); },
  onProgress: (listener) => events.modelsProgress.listen((e) => listener(e.payload.line, e.payload.done, e.payload.failed)),
  importSamples: () => call(commands.importSamples()),
};
