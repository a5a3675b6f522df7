import "./style.css";
import { getCurrentWebview } from "@tauri-apps/api/webview";
import { flushSync, mount, unmount } from "svelte";
import { call, commands, library, migrateLegacyLibrary } from "./api";
import { firstRunBackend, importPaths, libraryBackend, queueBackend, renderBackend } from "./backends";
import FirstRun from "./start/FirstRun.svelte";
import { dismissGuide, shouldGuide } from "./start/first_run";
import GalleryScreen from "./gallery/GalleryScreen.svelte";
import { handOff, takeHandOff } from "./handoff";
import { runJob } from "./job/run";
import EditScreen from "./screens/EditScreen.svelte";
import LookScreen from "./screens/LookScreen.svelte";
import BatchScreen from "./screens/BatchScreen.svelte";
import TryOnScreen from "./tryon/TryOnScreen.svelte";
import { clear, h } from "./dom";
import LibraryScreen from "./library/LibraryScreen.svelte";
import QueuePanel from "./queue/QueuePanel.svelte";
import { settingsScreen } from "./screens";

// Screens built as Svelte components are mounted into the main area and unmounted when another
// screen is shown; the others still draw themselves with `h` until they move over.
let mounted: Record<string, unknown> | null = null;
let notice: string | null = null;

function libraryScreen(main: HTMLElement): void {
  mounted = mount(LibraryScreen, { target: main, props: { backend: libraryBackend, importPaths, notice } });
  notice = null;
}

function galleryScreen(main: HTMLElement): void {
  // "Use as input": the render, now a library image, opens preselected on the chosen screen.
  const onUse = (uploadKey: string, screen: string) => {
    handOff(uploadKey);
    show(screen);
  };
  mounted = mount(GalleryScreen, { target: main, props: { backend: renderBackend, onUse } });
}

function tryOnScreen(main: HTMLElement): void {
  const run = (panel: HTMLElement, workflow: string, body: unknown) => runJob(panel, workflow, body);
  mounted = mount(TryOnScreen, { target: main, props: { backend: libraryBackend, run, initialPerson: takeHandOff() } });
}

let dataDir = "";

/** The first-run guide: not in the navigation; shown on a new data folder. */
function welcomeScreen(main: HTMLElement): void {
  const run = (panel: HTMLElement, workflow: string, body: unknown) => runJob(panel, workflow, body);
  const onDone = () => {
    dismissGuide(localStorage, dataDir);
    show("library");
  };
  mounted = mount(FirstRun, { target: main, props: { backend: firstRunBackend, run, onDone } });
}

function workflowScreen(main: HTMLElement): void {
  mounted = mount(EditScreen, { target: main, props: { backend: libraryBackend, initialPhoto: takeHandOff() } });
}

function lookScreen(main: HTMLElement): void {
  mounted = mount(LookScreen, { target: main, props: { backend: libraryBackend } });
}

function batchScreen(main: HTMLElement): void {
  mounted = mount(BatchScreen, { target: main });
}

function queueScreen(main: HTMLElement): void {
  mounted = mount(QueuePanel, { target: main, props: { backend: queueBackend } });
}

const SCREENS: [string, string, (main: HTMLElement) => void | Promise<void>][] = [
  ["library", "Library", libraryScreen],
  ["edit", "Edit a photo", workflowScreen],
  ["look", "Look builder", lookScreen],
  ["try-on", "Try-on", tryOnScreen],
  ["batch", "Batch", batchScreen],
  ["queue", "Queue", queueScreen],
  ["gallery", "Gallery", galleryScreen],
  ["settings", "Settings", settingsScreen],
];

const app = document.getElementById("app")!;
const main = h("main", { id: "main", tabindex: -1 });
const nav = h("nav", { "aria-label": "Screens" });

function show(id: string): void {
  for (const b of nav.querySelectorAll("button")) b.setAttribute("aria-current", String(b.dataset.screen === id));
  const screen = id === "welcome" ? (["welcome", "Welcome", welcomeScreen] as const) : (SCREENS.find((s) => s[0] === id) ?? SCREENS[0]);
  if (mounted) void unmount(mounted);
  mounted = null;
  clear(main);
  void screen[2](main);
  // Mounting effects run now, so a drop handled right after `show` finds the screen ready.
  flushSync();
}

for (const [id, label] of SCREENS) {
  const b = h("button", { "data-screen": id, "data-testid": `nav-${id}`, onclick: () => show(id) }, label);
  nav.append(b);
}
clear(app, h("header", {}, h("span", { class: "brand" }, "Figur Studio")), nav, main);
if (matchMedia("(prefers-color-scheme: dark)").matches) document.documentElement.classList.add("dark");
// The library lives in the data folder's ledger; a list an earlier version kept in this window
// is retired once, saying what became of it.
void commands.info().then(async (r) => {
  if (r.status === "ok") {
    try {
      const ledgerKeys = async () => new Set((await library()).map((i) => i.upload_key));
      const moved = await migrateLegacyLibrary(localStorage, r.data.data_dir, ledgerKeys);
      if (moved) {
        notice = (`Your library now lives in the data folder: ${moved.carried} photo(s) from this window's old list are in it${moved.missing ? `; ${moved.missing} were no longer in this data folder` : ""}.`);
      }
    } catch {
      // The library screen shows the engine's error itself.
    }
    dataDir = r.data.data_dir;
    try {
      // A new data folder (no photo, no render) opens on the guide.
      const [photos, renders] = await Promise.all([call(commands.library({}, 0, 1)), call(commands.renders(0, 1))]);
      if (shouldGuide(localStorage, dataDir, photos.total, renders.count)) {
        show("welcome");
        return;
      }
    } catch {
      // Without an answer the library opens, as it would.
    }
  }
  show("library");
});

// Files and folders dropped anywhere are imported into the library.
void getCurrentWebview().onDragDropEvent((e) => {
  if (e.payload.type === "drop") {
    show("library");
    (window as unknown as { figurImport?: (p: string[]) => void }).figurImport?.(e.payload.paths);
  }
}).catch(() => undefined);
