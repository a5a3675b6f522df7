import { describe, expect, it } from "vitest";
import { apiStatus, PROVIDERS } from "../src/studio_settings";
import type { SettingsView } from "../src/bindings";

const view = (over: Partial<SettingsView>): SettingsView => ({
  settings: { api_enabled: false, api_port: 8686, provider: "auto", data_dir: null },
  api_url: null,
  api_problem: null,
  data_dir_in_use: "/data",
  restart_needed: false,
  providers_in_use: "cuda, cpu",
  ...over,
});

describe("the local API's status line", () => {
  it("gives the address scripts use when the API is on", () => {
    expect(apiStatus(view({ api_url: "http://127.0.0.1:8686" }))).toContain("http://127.0.0.1:8686/v1");
  });
  it("says why it is not on when the port was taken", () => {
    const v = view({ settings: { api_enabled: true, api_port: 80, provider: "auto", data_dir: null }, api_problem: "port 80 cannot be used" });
    expect(apiStatus(v)).toBe("Not on: port 80 cannot be used");
  });
  it("says off plainly", () => {
    expect(apiStatus(view({}))).toMatch(/^Off/);
  });
  it("offers the three providers the engine knows", () => {
    expect(PROVIDERS.map(([v]) => v)).toEqual(["auto", "cpu", "cuda"]);
  });
});
