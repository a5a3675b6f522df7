// The studio server this desktop is connected to (Settings → Studio server), if any. Read once
// when the window loads: connecting and disconnecting reload it, so no screen ever holds the
// other side's objects.
import { RemoteStudio, savedConnection } from "./remote";

export const server: RemoteStudio | null = (() => {
  const connection = typeof localStorage === "undefined" ? null : savedConnection(localStorage);
  return connection ? new RemoteStudio(connection) : null;
})();
