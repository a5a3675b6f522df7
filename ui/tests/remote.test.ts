// @vitest-environment node
/// <reference types="node" />
// The desktop connected to a studio server: the screens' backends over a real `figur serve`
// (started here on a free port over a temporary folder), exactly as the window uses them.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StudioError } from "../src/api";
import { normalizeUrl, RemoteStudio, savedConnection, saveConnection } from "../src/remote";

const FIGUR = process.env.FIGUR_BIN ?? join(__dirname, "../../target/debug/figur");
let server: ChildProcess;
let url = "";
let key = "";

beforeAll(async () => {
  const data = mkdtempSync(join(tmpdir(), "figur-ui-remote-"));
  server = spawn(FIGUR, ["serve", "--listen", "127.0.0.1:0"], { env: { ...process.env, FIGUR_DATA_DIR: data, FIGUR_LOG: "warn" } });
  url = await new Promise<string>((resolve, reject) => {
    let out = "";
    server.stdout!.on("data", (d: Buffer) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
    server.on("exit", (code: number | null) => reject(new Error(`figur serve exited ${code}`)));
  });
  key = readFileSync(join(data, "first-key.txt"), "utf8").match(/sk_live_\w+/)![0];
}, 60_000);

afterAll(() => {
  server?.kill("SIGTERM");
});

function astronaut(): Blob {
  const listing = execFileSync(FIGUR, ["samples"], { encoding: "utf8" });
  const path = listing.split("\n").map((l: string) => l.trim()).find((l: string) => l.startsWith("/") && l.endsWith("astronaut.png"))!;
  return new Blob([readFileSync(path)], { type: "image/png" });
}

/** Waits for `done` to hold, asking every 100 ms; fails after `ms`. */
async function until(done: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("connecting", () => {
  it("reads an address as typed and keeps the connection", () => {
    expect(normalizeUrl(" studio.local:8686/ ")).toBe("https://studio.local:8686");
    expect(normalizeUrl("http://10.0.0.4:8686/v1")).toBe("http://10.0.0.4:8686");
    expect(() => normalizeUrl("ftp://x")).toThrow(/https/);
    expect(() => normalizeUrl("  ")).toThrow(StudioError);
    const store = new Map<string, string>();
    const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v), removeItem: (k: string) => void store.delete(k) } as unknown as Storage;
    expect(savedConnection(storage)).toBeNull();
    saveConnection(storage, { url: "https://a", key: "sk_live_x" });
    expect(savedConnection(storage)).toEqual({ url: "https://a", key: "sk_live_x" });
    saveConnection(storage, null);
    expect(savedConnection(storage)).toBeNull();
  });

  it("checks the key, and says so when it is wrong or nobody answers", async () => {
    expect(await new RemoteStudio({ url, key }).check()).toMatch(/^Connected to http:\/\/127\.0\.0\.1:\d+: \d+ credits\.$/);
    await expect(new RemoteStudio({ url, key: "sk_live_wrong" }).check()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    await expect(new RemoteStudio({ url: "http://127.0.0.1:9", key }).check()).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });
});

describe("the server's studio through the screens' backends", () => {
  it("library, timeline, queue and gallery are the server's", async () => {
    const studio = new RemoteStudio({ url, key });
    // The library: an upload, tagged, found by its tag.
    const up = await studio.upload(astronaut(), "astronaut.png");
    const page = await studio.library.page({}, 0, 120);
    expect(page.uploads.map((u) => u.upload_key)).toContain(up.upload_key);
    const edited = await studio.library.edit(up.upload_key, { tags: ["Space Suit"], favourite: true });
    expect(edited.tags).toEqual(["space suit"]);
    expect(await studio.library.tags()).toEqual([{ tag: "space suit", count: 1 }]);
    expect((await studio.library.page({ tag: "space suit", favourite: true }, 0, 120)).total).toBe(1);
    expect((await studio.library.page({ text: "nothing like it" }, 0, 120)).total).toBe(0);

    // A workflow dispatched as a screen does, followed by the poll until it ends.
    const changed: string[] = [];
    const stop = await studio.timeline.onJobChanged((id) => changed.push(id));
    const accepted = await studio.timeline.dispatch("background-swap-with-spec", {
      source_image_s3_key: up.upload_key, output_preset: "original", scene_type: "studio_sweep", mood: "soft",
    });
    await until(async () => {
      const events = (await studio.timeline.events(accepted.job_id, 0)).events;
      return events.some((e) => e.event_type === "succeeded" || e.event_type === "failed");
    });
    const events = (await studio.timeline.events(accepted.job_id, 0)).events;
    expect(events[events.length - 1].event_type).toBe("succeeded");
    await until(() => changed.includes(accepted.job_id), 5_000);
    stop();

    // A bad body is the server's 422, named.
    // (Typed code cannot write it: the cast stands in for a client that sends anything.)
    await expect(studio.timeline.dispatch("background-swap-with-spec", { source_image_s3_key: "nope" } as never)).rejects.toMatchObject({ code: "VALIDATION_ERROR" });

    // The gallery: the render, its job, variations, and the render back into the library.
    const renders = await studio.renders.renders(0, 500);
    expect(renders.renders.map((r) => r.public_id)).toContain(accepted.job_id);
    expect((await studio.renders.job(accepted.job_id)).status).toBe("SUCCESS");
    const again = await studio.renders.useAsInput(accepted.job_id);
    expect(again.upload_key).not.toBe(up.upload_key);
    expect((await studio.library.page({}, 0, 120)).total).toBe(2);
    // Export is the desktop's command (it downloads the server's render into Pictures).
    const exported: string[][] = [];
    const exporting = new RemoteStudio(studio.connection, undefined, "", (id, format) => {
      exported.push([id, format]);
      return Promise.resolve(`/pictures/${id}.${format}`);
    });
    expect(await exporting.renders.exportRender(accepted.job_id, "png")).toBe(`/pictures/${accepted.job_id}.png`);
    expect(exported).toEqual([[accepted.job_id, "png"]]);

    // The queue: a held variation waits in it until resumed (unless it finished first).
    const [variation] = await studio.renders.vary(accepted.job_id, 1);
    const id = variation.job_id;
    if (await studio.queue.pause(id).then(() => true, () => false)) {
      await until(async () => {
        const d = await studio.renders.job(id);
        return d.status === "NOT_STARTED" && d.paused;
      });
      expect((await studio.queue.queue()).jobs.map((j) => j.public_id)).toContain(id);
      await studio.queue.resume(id);
    }
    await until(async () => (await studio.renders.job(id)).status === "SUCCESS");
    expect((await studio.queue.queue()).jobs).toEqual([]);
  }, 180_000);
});
