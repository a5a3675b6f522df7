// The studio server this desktop is connected to (Settings → Studio server), if any: its
// address, and its key from the system keyring, read through the desktop's command before any
// screen loads (a top-level await). Connecting and disconnecting reload the window, so no
// screen ever holds the other side's objects.
import { call, commands } from "./api";
import { RemoteStudio, savedConnection, saveConnection } from "./remote";

async function saved(): Promise<RemoteStudio | null> {
  // Outside the app (component tests) there is no desktop to ask.
  if (typeof window === "undefined" || !("__TAURI_INTERNALS__" in window)) return null;
  // An earlier version kept the key in this webview's storage: it moves to the keyring.
  const legacy = savedConnection(localStorage);
  if (legacy) {
    try {
      await call(commands.connectServer(legacy.url, legacy.key));
    } catch (e) {
      // Not kept: the window opens on this machine's studio and Settings asks again.
      console.warn("the saved studio-server connection could not be moved to the keyring", e);
    } finally {
      saveConnection(localStorage, null);
    }
  }
  const connection = await commands.serverConnection();
  return connection ? new RemoteStudio({ url: connection.url, key: connection.key }, undefined, connection.note) : null;
}

export const server: RemoteStudio | null = await saved();
