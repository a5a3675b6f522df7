import { describe, expect, it } from "vitest";
import { apply, empty, type EventLike } from "../src/timeline";
import { visibleRange } from "../src/virtual";
import { explain } from "../src/words";

const ev = (seq: number, event_type: string, stage: string | null, extra: unknown = {}, artifacts: EventLike["artifacts"] = []): EventLike => ({
  seq, event_type, stage, message: `${stage ?? event_type} message`, artifacts, extra,
});

describe("timeline", () => {
  it("folds stages, progress and artifacts, and ignores events it has already seen", () => {
    let t = apply(empty(), [ev(1, "queued", null), ev(2, "stage", "decode", { progress: 0 })]);
    t = apply(t, [ev(2, "stage", "decode", { progress: 0 }), ev(3, "stage", "pose", { progress: 0.5 }, [{ kind: "pose_overlay", role: "intermediate", label: "Pose", image_url: "u1" }])]);
    expect(t.stages.map((s) => [s.name, s.done])).toEqual([["decode", true], ["pose", false]]);
    expect(t.progress).toBe(0.5);
    expect(t.intermediates).toHaveLength(1);
    t = apply(t, [ev(4, "succeeded", null, {}, [{ kind: "render", role: "final", label: "Done", image_url: "u2" }])]);
    expect(t.status).toBe("succeeded");
    expect(t.progress).toBe(1);
    expect(t.finals[0].url).toBe("u2");
    expect(t.cursor).toBe(4);
  });

  it("keeps the failure's code and message", () => {
    const t = apply(empty(), [ev(1, "failed", null, { error: { code: "NO_SUBJECT_FOUND", message: "nobody" } })]);
    expect(t.status).toBe("failed");
    expect(t.error).toEqual({ code: "NO_SUBJECT_FOUND", message: "nobody" });
    expect(explain("NO_SUBJECT_FOUND", "nobody")).toMatch(/No person/);
    // A code without words of its own keeps the message; a code the studio does not have
    // is not taken as one (the failure is shown as internal, with its message).
    expect(explain("JOB_NOT_FOUND", "as said")).toBe("as said");
    const odd = apply(empty(), [ev(1, "failed", null, { error: { code: "SOMETHING_NEW", message: "as said" } })]);
    expect(odd.error).toEqual({ code: "INTERNAL", message: "as said" });
  });
});

describe("virtual gallery", () => {
  it("renders only the rows on screen, plus one each way", () => {
    expect(visibleRange(1000, 5, 200, 0, 800)).toEqual([0, 25]);
    expect(visibleRange(1000, 5, 200, 10_000, 800)).toEqual([245, 275]);
    expect(visibleRange(1000, 5, 200, 39_200, 800)).toEqual([975, 1000]);
    expect(visibleRange(0, 5, 200, 0, 800)).toEqual([0, 0]);
  });
});

describe("the queue's own events on a timeline", () => {
  const ev = (seq: number, event_type: string, stage: string | null, extra: unknown = {}) => ({ seq, event_type, stage, message: stage ?? "", artifacts: [], extra });
  it("are no steps of the work: a pause holds the job, a new start runs every stage again", async () => {
    const { apply, empty } = await import("../src/timeline");
    let t = apply(empty(), [ev(1, "queued", null), ev(2, "stage", "started"), ev(3, "stage", "decode", { progress: 0.2 })]);
    expect(t.stages.map((s) => s.name)).toEqual(["decode"]);
    t = apply(t, [ev(4, "stage", "paused", { paused: true, progress: 0 })]);
    expect([t.status, t.held, t.progress, t.stages.length]).toEqual(["queued", true, 0, 1]);
    t = apply(t, [ev(5, "stage", "priority", { priority: 3 })]);
    expect(t.held).toBe(true);
    t = apply(t, [ev(6, "stage", "resumed"), ev(7, "stage", "started"), ev(8, "stage", "decode")]);
    expect([t.status, t.held, t.stages.map((s) => s.name)]).toEqual(["running", false, ["decode"]]);
  });
});
