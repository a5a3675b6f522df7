import { describe, expect, it } from "vitest";
import { migrateLegacyLibrary } from "../src/api";

describe("the library an earlier version kept in localStorage", () => {
  it("is retired once, counting what the ledger holds and what it no longer has", async () => {
    const storage = window.localStorage;
    storage.clear();
    storage.setItem("figur.library:/data", JSON.stringify([
      { upload_key: "uploads/A/a.png", image_url: "http://127.0.0.1:4100/v1/artifacts/live/uploads/A/a.png?exp=1&sig=x", name: "a.png" },
      { upload_key: "uploads/B/b.png", image_url: "http://127.0.0.1:4100/old", name: "b.png" },
      { upload_key: "uploads/A/a.png", image_url: "http://127.0.0.1:4100/dup", name: "a.png" },
    ]));
    storage.setItem("figur.library:/other", "[]");
    const moved = await migrateLegacyLibrary(storage, "/data", async () => new Set(["uploads/A/a.png", "uploads/C/c.png"]));
    expect(moved).toEqual({ carried: 1, missing: 1 });
    expect(storage.getItem("figur.library:/data")).toBeNull();
    expect(storage.getItem("figur.library:/other")).toBe("[]");
    let read = false;
    expect(await migrateLegacyLibrary(storage, "/data", async () => { read = true; return new Set(); })).toBeNull();
    expect(read).toBe(false);
  });

  it("drops an unreadable old list without failing", async () => {
    window.localStorage.setItem("figur.library", "{not json");
    expect(await migrateLegacyLibrary(window.localStorage, "/data", async () => new Set())).toBeNull();
    expect(window.localStorage.getItem("figur.library")).toBeNull();
  });
});
