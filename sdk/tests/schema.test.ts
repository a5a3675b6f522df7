// The checked-in types are exactly what openapi-typescript makes of the checked-in openapi.json
// (itself checked against the server by the Rust tests). After an API change: `npm run generate`.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import openapiTS, { astToString } from "openapi-typescript";
import { expect, it } from "vitest";

it("src/schema.d.ts matches openapi.json", async () => {
  const doc = JSON.parse(readFileSync(join(__dirname, "../../openapi.json"), "utf8"));
  const fresh = astToString(await openapiTS(doc));
  const checkedIn = readFileSync(join(__dirname, "../src/schema.d.ts"), "utf8");
  const body = (s: string) => s.slice(s.indexOf("export interface paths"));
  expect(body(checkedIn)).toBe(body(fresh));
});
