// Settings, the one screen still drawn with `h()` (the others are Svelte components).
import { call, commands, events } from "./api";
import { clear, h } from "./dom";
import { errorBox } from "./job";
import { studioSettings } from "./studio_settings";
import { generativeSettings } from "./generative_settings";

export async function settingsScreen(main: HTMLElement): Promise<void> {
  clear(main, h("h1", {}, "Settings"), h("p", { class: "muted" }, "Loading…"));
  try {
    const info = await call(commands.info());
    const models = await commands.models();
    const theme = h("button", { class: "secondary", onclick: () => document.documentElement.classList.toggle("dark") }, "Light / dark theme");
    const keyOut = h("p", { "aria-live": "polite" });
    const newKey = h("button", { class: "secondary", "data-testid": "create-key", onclick: async () => {
      try {
        const key = await call(commands.createApiKey("desktop settings"));
        clear(keyOut, "Your new key (shown once): ", h("code", { "data-testid": "new-key" }, key));
      } catch (e) {
        clear(keyOut, errorBox(e));
      }
    } }, "Create an API key");
    const fetchLog = h("pre", { class: "log", "aria-live": "polite", "data-testid": "fetch-log" });
    const fetchButton = h("button", { class: "secondary", onclick: async () => {
      fetchButton.setAttribute("disabled", "");
      clear(fetchLog, "Starting…\n");
      const unlisten = await events.modelsProgress.listen((e) => {
        fetchLog.append(`${e.payload.line}\n`);
        if (e.payload.done) {
          unlisten();
          fetchButton.removeAttribute("disabled");
          if (!e.payload.failed) void settingsScreen(main);
        }
      });
      try {
        await call(commands.fetchModels());
      } catch (err) {
        unlisten();
        fetchButton.removeAttribute("disabled");
        fetchLog.append(String(err));
      }
    } }, "Fetch missing models");
    clear(main, h("h1", {}, "Settings"),
      h("dl", {}, h("dt", {}, "Data folder"), h("dd", {}, info.data_dir), h("dt", {}, "Credits"), h("dd", {}, String(info.credits.balance)), h("dt", {}, "Version"), h("dd", {}, info.version)),
      h("h2", {}, "Studio"),
      studioSettings(),
      h("h2", {}, "API keys"),
      newKey, keyOut,
      h("h2", {}, "Models"),
      h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Model"), h("th", {}, "State"), h("th", {}, "Licence"))), h("tbody", {}, ...models.map((m) => h("tr", {}, h("td", {}, m.name), h("td", {}, m.state), h("td", {}, m.licence))))),
      fetchButton, fetchLog,
      h("h2", {}, "Generative models"),
      generativeSettings(),
      h("h2", {}, "Hot folders"),
      hotFolders(),
      h("h2", {}, "Workflows"),
      h("ul", {}, ...info.operations.operations.map((o) => h("li", {}, `${o.name} — ${o.enabled ? "available" : "switched off"}`))),
      theme);
  } catch (e) {
    main.append(errorBox(e));
  }
}

/** Settings' hot folders: every image dropped into a watched folder runs its workflow. */
function hotFolders(): HTMLElement {
  const box = h("div", { "data-testid": "hot-folders" });
  const list = h("ul", {});
  const note = h("div", { "aria-live": "polite" });
  const draw = (folders: Awaited<ReturnType<typeof commands.hotFolders>>) => clear(list, ...folders.map((f) => h("li", { "data-testid": "hot-folder" },
    h("code", {}, f.path), ` — ${f.workflow}, ${f.running ? "watching" : "stopped"}, ${f.done} done, ${f.failed} failed `,
    h("button", { class: "secondary", onclick: async () => {
      try { draw(await call(commands.removeHotFolder(f.path))); } catch (e) { clear(note, errorBox(e)); }
    } }, "Stop watching"))));
  const path = h("input", { type: "text", "data-testid": "hot-path", "aria-label": "Folder to watch", placeholder: "/path/to/a/folder", size: 48 });
  const workflow = h("select", { "data-testid": "hot-workflow", "aria-label": "Workflow for the folder" },
    h("option", { value: "background-swap-with-spec" }, "Background swap (white sweep, square)"),
    h("option", { value: "extract" }, "Extract garments"));
  const add = h("button", { class: "secondary", "data-testid": "hot-add", onclick: async () => {
    try {
      draw(await call(commands.addHotFolder(path.value.trim(), workflow.value)));
      clear(note, h("p", { class: "muted" }, "Drop images into the folder: results appear in its out/ folder and in the Gallery; failures go to failed/ with the reason."));
    } catch (e) {
      clear(note, errorBox(e));
    }
  } }, "Watch this folder");
  void commands.hotFolders().then(draw);
  box.append(list, h("div", { class: "row" }, path, workflow, add), note);
  return box;
}
