import "./style.css";
import { getCurrentWebview } from "@tauri-apps/api/webview";
import { mount } from "svelte";
import { call, commands, library, migrateLegacyLibrary } from "./api";
import App from "./App.svelte";
import { handOffImport } from "./handoff";
import { go } from "./router.svelte";
import { dismissGuide, shouldGuide } from "./start/first_run";

if (matchMedia("(prefers-color-scheme: dark)").matches) document.documentElement.classList.add("dark");

/** What the studio opens on: the guide for a new data folder, with a notice if an old list was retired. */
async function start(): Promise<{ notice: string | null; dataDir: string; guide: boolean }> {
  const r = await commands.info();
  if (r.status !== "ok") return { notice: null, dataDir: "", guide: false };
  const dataDir = r.data.data_dir;
  let notice: string | null = null;
  let guide = false;
  try {
    // The library lives in the data folder's ledger; a list an earlier version kept in this
    // window is retired once, saying what became of it.
    const ledgerKeys = async () => new Set((await library()).map((i) => i.upload_key));
    const moved = await migrateLegacyLibrary(localStorage, dataDir, ledgerKeys);
    if (moved) {
      notice = `Your library now lives in the data folder: ${moved.carried} photo(s) from this window's old list are in it${moved.missing ? `; ${moved.missing} were no longer in this data folder` : ""}.`;
    }
    // A new data folder (no photo, no render) opens on the guide.
    const [photos, renders] = await Promise.all([call(commands.library({}, 0, 1)), call(commands.renders(0, 1))]);
    guide = shouldGuide(localStorage, dataDir, photos.total, renders.count);
  } catch {
    // Without an answer the library opens, as it would; it shows the engine's error itself.
  }
  return { notice, dataDir, guide };
}

void start().then(({ notice, dataDir, guide }) => {
  if (guide) go("welcome");
  const onGuideDone = () => {
    dismissGuide(localStorage, dataDir);
    go("library");
  };
  mount(App, { target: document.getElementById("app")!, props: { notice, onGuideDone } });
});

// Files and folders dropped anywhere are imported into the library.
void getCurrentWebview().onDragDropEvent((e) => {
  if (e.payload.type === "drop") {
    handOffImport(e.payload.paths);
    go("library");
  }
}).catch(() => undefined);
