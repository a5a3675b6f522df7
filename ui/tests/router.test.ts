import { describe, expect, it } from "vitest";
import { go, route, screenOf } from "../src/router.svelte";

describe("the screen route", () => {
  it("names a screen by its hash, the library for anything else", () => {
    expect(screenOf("#/gallery")).toBe("gallery");
    expect(screenOf("#try-on")).toBe("try-on");
    expect(screenOf("")).toBe("library");
    expect(screenOf("#/nowhere")).toBe("library");
  });
  it("follows go() and the webview's own hash changes (back, forward)", async () => {
    go("queue");
    expect([route.current, location.hash]).toEqual(["queue", "#/queue"]);
    location.hash = "/settings";
    await new Promise((r) => setTimeout(r, 0));
    expect(route.current).toBe("settings");
  });
});
