// The SDK against a real `figur serve`, started here on a free port over a temporary folder.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFigur, FigurError, type JobEvent } from "../src/index";

const FIGUR = process.env.FIGUR_BIN ?? join(__dirname, "../../target/debug/figur");
let server: ChildProcess;
let baseUrl = "";
let apiKey = "";

beforeAll(async () => {
  const data = mkdtempSync(join(tmpdir(), "figur-sdk-"));
  server = spawn(FIGUR, ["serve", "--listen", "127.0.0.1:0"], { env: { ...process.env, FIGUR_DATA_DIR: data, FIGUR_LOG: "warn" } });
  baseUrl = await new Promise<string>((resolve, reject) => {
    let out = "";
    server.stdout!.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
    server.on("exit", (code) => reject(new Error(`figur serve exited ${code}`)));
  });
  apiKey = readFileSync(join(data, "first-key.txt"), "utf8").match(/sk_live_\w+/)![0];
}, 60_000);

afterAll(() => {
  server?.kill("SIGTERM");
});

function astronaut(): Uint8Array {
  const listing = execFileSync(FIGUR, ["samples"], { encoding: "utf8" });
  const path = listing.split("\n").map((l) => l.trim()).find((l) => l.startsWith("/") && l.endsWith("astronaut.png"))!;
  return readFileSync(path);
}

describe("run()", () => {
  it("dispatches, follows the events and returns the render", async () => {
    const figur = createFigur({ baseUrl, apiKey });
    const up = await figur.upload(astronaut(), "astronaut.png");
    const seen: JobEvent[] = [];
    const result = await figur.run(
      "background-swap-with-spec",
      // Free text, as the hosted API takes it: the types accept what the server accepts.
      { source_image_s3_key: up.upload_key, output_preset: "original", scene_type: "raw concrete loft", mood: "calm" },
      { onEvent: (e) => seen.push(e), timeoutMs: 60_000 },
    );
    expect(seen[0].event_type).toBe("queued");
    expect(seen.at(-1)!.event_type).toBe("succeeded");
    expect(result.render?.origin).toBe("edit");
    expect(result.artifacts[0].kind).toBe("render");
    const png = await fetch(result.artifacts[0].image_url);
    expect(png.headers.get("content-type")).toBe("image/png");
  }, 90_000);

  it("throws a typed error with the job's code, and the envelope's code for a bad request", async () => {
    const figur = createFigur({ baseUrl, apiKey });
    const flat = new Uint8Array(readFileSync(join(__dirname, "../../crates/pixels/fixtures/cmyk.jpg")));
    const up = await figur.upload(flat, "flat.jpg");
    await expect(
      figur.run("extract", { trial_image: up.upload_key }, { timeoutMs: 60_000 }),
    ).rejects.toMatchObject({ code: expect.stringMatching(/NO_SUBJECT_FOUND|INPUT_UNREADABLE/) });
    const bad = await figur.run("look", { items: [] }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(FigurError);
    expect((bad as FigurError).code).toBe("VALIDATION_ERROR");
    expect((bad as FigurError).status).toBe(422);
  }, 90_000);
});
