// What the studio opens on: the first-run guide for a new data folder, and a notice when a
// library list an earlier version kept in this window was retired. Asked after the shell is
// on screen, so a slow answer never delays the window.
import { call, commands, library, migrateLegacyLibrary } from "./api";
import { server } from "./server";
import { shouldGuide } from "./start/first_run";

export interface Startup {
  notice: string | null;
  dataDir: string;
  guide: boolean;
}

export async function startup(): Promise<Startup> {
  const r = await commands.info();
  if (r.status !== "ok") return { notice: null, dataDir: "", guide: false };
  const dataDir = r.data.data_dir;
  // Connected to a studio server, the library is the server's: nothing local to retire or guide.
  if (server) return { notice: null, dataDir, guide: false };
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
