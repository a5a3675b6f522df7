// The studio's screens and which one is shown: a hash route (`#/gallery`), so each screen has an
// address, the webview's back and forward work, and a screen can be opened from anywhere
// (`go("try-on")`). Fifteen lines; a router library would bring path patterns and lazy loading
// that a fixed set of eight screens does not need.
export const SCREENS = [
  ["library", "Library"],
  ["edit", "Edit a photo"],
  ["look", "Look builder"],
  ["try-on", "Try-on"],
  ["batch", "Batch"],
  ["queue", "Queue"],
  ["gallery", "Gallery"],
  ["settings", "Settings"],
] as const;

export type ScreenId = (typeof SCREENS)[number][0] | "welcome";

const KNOWN = new Set<string>([...SCREENS.map((s) => s[0]), "welcome"]);

/** The screen a hash names; the library for anything else. */
export function screenOf(hash: string): ScreenId {
  const id = hash.replace(/^#\/?/, "");
  return (KNOWN.has(id) ? id : "library") as ScreenId;
}

class Route {
  current = $state<ScreenId>(screenOf(location.hash));
  constructor() {
    addEventListener("hashchange", () => (this.current = screenOf(location.hash)));
  }
}

export const route = new Route();

/** Shows `screen` (a new entry in the webview's history). */
export function go(screen: ScreenId): void {
  if (route.current === screen && location.hash === `#/${screen}`) return;
  location.hash = `/${screen}`;
  route.current = screen;
}
