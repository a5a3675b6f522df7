// The studio's screens. Each draws into the main area; long work shows progress; nothing blocks.
import { call, commands, events, library, type LibraryItem } from "./api";
import { clear, h } from "./dom";
import { errorBox, runJob } from "./job";
import { studioSettings } from "./studio_settings";
import { generativeSettings } from "./generative_settings";
import { takeHandOff } from "./handoff";

const CATEGORIES = ["top", "t-shirt", "shirt", "blouse", "sweater", "hoodie", "jacket", "coat", "vest", "dress", "jumpsuit", "skirt", "pants", "jeans", "shorts", "shoes", "bag", "hat", "scarf", "belt", "eyewear"];

function picker(label: string, testid: string, items: LibraryItem[]): HTMLSelectElement {
  const id = `pick-${testid}`;
  const select = h("select", { id, "data-testid": testid }, h("option", { value: "" }, "— choose from the library —"), ...items.map((i) => h("option", { value: i.upload_key }, i.name)));
  select.setAttribute("aria-label", label);
  return select;
}

function categorySelect(testid: string, initial = "top"): HTMLSelectElement {
  const s = h("select", { "data-testid": testid, "aria-label": "Garment category" }, ...CATEGORIES.map((c) => h("option", { value: c }, c)));
  s.value = initial;
  return s;
}

/** The library for a picker screen; on failure the screen shows the error instead. */
async function libraryOrError(main: HTMLElement): Promise<LibraryItem[] | null> {
  try {
    return await library();
  } catch (e) {
    clear(main, errorBox(e));
    return null;
  }
}

export async function workflowScreen(main: HTMLElement): Promise<void> {
  // Any single-photo workflow on a library item: extract and the background swaps.
  const items = await libraryOrError(main);
  if (!items) return;
  const photo = picker("Photo", "photo", items);
  photo.value = takeHandOff() ?? "";
  const workflow = h("select", { "data-testid": "workflow", "aria-label": "Workflow" },
    h("option", { value: "background-swap-with-spec" }, "Background swap (studio sweep)"),
    h("option", { value: "extract" }, "Extract garments"));
  const panel = h("section", { class: "panel", "data-testid": "timeline" });
  const run = h("button", { class: "primary", "data-testid": "run", onclick: () => {
    if (!photo.value) return clear(panel, h("p", { class: "error" }, "Choose a photo first."));
    const body = workflow.value === "extract"
      ? { trial_image: photo.value }
      : { source_image_s3_key: photo.value, output_preset: "original", scene_type: "studio_sweep", mood: "soft" };
    void runJob(panel, workflow.value, body);
  } }, "Run");
  clear(main, h("h1", {}, "Edit a photo"), h("div", { class: "form" }, h("label", {}, "Photo ", photo), h("label", {}, "Workflow ", workflow), run), panel);
}

export async function lookScreen(main: HTMLElement): Promise<void> {
  const items = await libraryOrError(main);
  if (!items) return;
  const rows = h("div", { class: "form layers" });
  const feedback = h("div", { "aria-live": "polite", "data-testid": "look-feedback" });
  const chosen = () => [...rows.querySelectorAll(".row")].map((r) => {
    const [g, c] = r.querySelectorAll("select");
    return { trial_image: (g as HTMLSelectElement).value, trial_item_category: (c as HTMLSelectElement).value };
  });
  // Compatibility as the designer picks: the same stylist rules the studio enforces.
  const check = async () => {
    const clashes = await commands.checkLook(chosen().filter((i) => i.trial_image).map((i) => i.trial_item_category));
    clear(feedback, ...(clashes.length ? clashes.map((c) => h("p", { class: "error" }, c)) : [h("p", { class: "ok" }, "These can be worn together.")]));
  };
  const addRow = () => {
    const row = h("div", { class: "row" }, picker("Garment photo", "look-garment", items), categorySelect("look-category"),
      h("button", { class: "secondary", "aria-label": "Move this layer up", onclick: () => { row.previousElementSibling?.before(row); } }, "↑"),
      h("button", { class: "secondary", "aria-label": "Remove this garment", onclick: () => { row.remove(); void check(); } }, "✕"));
    row.addEventListener("change", () => void check());
    rows.append(row);
  };
  addRow();
  addRow();
  const gender = h("select", { "aria-label": "Figure" }, h("option", { value: "FEMALE" }, "Female figure"), h("option", { value: "MALE" }, "Male figure"));
  const tuck = h("input", { type: "checkbox", id: "tuck" });
  const panel = h("section", { class: "panel", "data-testid": "timeline" });
  const run = h("button", { class: "primary", onclick: () => {
    const picked = chosen().filter((i) => i.trial_image);
    if (!picked.length) return clear(panel, h("p", { class: "error" }, "Choose at least one garment."));
    void runJob(panel, "look", { user_category: gender.value, items: picked, runtime_config: { tuck: tuck.checked } });
  } }, "Build the look");
  clear(main, h("h1", {}, "Look builder"),
    h("p", { class: "muted" }, "Pick garments. The studio layers them as a dresser would (bottoms, tops, outerwear, shoes, accessories); tick “tuck” to put tops under bottoms."),
    h("div", { class: "row" }, gender, h("label", { for: "tuck" }, tuck, " Tuck tops in")), rows,
    h("button", { class: "secondary", onclick: addRow }, "Add a garment"), feedback, run, panel);
}

export async function batchScreen(main: HTMLElement): Promise<void> {
  const items = await libraryOrError(main);
  if (!items) return;
  const list = h("ul", { class: "batch", "data-testid": "batch" });
  const summary = h("p", { "aria-live": "polite" });
  type Row = { item: LibraryItem; panel: HTMLElement; job?: string; status: string };
  let rows: Row[] = [];
  const tally = () => {
    const count = (s: string) => rows.filter((r) => r.status === s).length;
    clear(summary, `${count("succeeded")} done, ${count("failed")} failed, ${rows.length - count("succeeded") - count("failed")} running of ${rows.length}`);
  };
  const start = (row: Row) => {
    row.status = "running";
    void runJob(row.panel, workflow.value, bodyFor(row.item), (t) => { row.status = t.status; tally(); }).then((id) => {
      row.job = id;
      if (!id) row.status = "failed";
      tally();
    });
  };
  const workflow = h("select", { "aria-label": "Workflow for every photo" },
    h("option", { value: "background-swap-with-spec" }, "Background swap (white sweep, square)"),
    h("option", { value: "extract" }, "Extract garments"));
  const bodyFor = (item: LibraryItem) => workflow.value === "extract"
    ? { trial_image: item.upload_key }
    : { source_image_s3_key: item.upload_key, output_preset: "ecommerce_square", scene_type: "studio_sweep", mood: "bright" };
  const runAll = h("button", { class: "primary", onclick: () => {
    clear(list);
    rows = items.map((item) => {
      const panel = h("div", { class: "panel small" });
      list.append(h("li", {}, h("span", {}, item.name), panel));
      return { item, panel, status: "queued" };
    });
    rows.forEach(start);
    tally();
  } }, `Run on all ${items.length} library photos`);
  const cancelAll = h("button", { class: "secondary", onclick: () => {
    for (const r of rows) if (r.job && r.status === "running") void call(commands.cancel(r.job)).catch(() => undefined);
  } }, "Cancel all");
  const retry = h("button", { class: "secondary", onclick: () => rows.filter((r) => r.status === "failed").forEach(start) }, "Retry failed");
  const exported = h("p", { class: "muted", "aria-live": "polite" });
  const exportAll = h("button", { class: "secondary", onclick: async () => {
    // A succeeded job's render has the job's id.
    const done = rows.filter((r) => r.status === "succeeded" && r.job);
    let saved = 0;
    for (const r of done) {
      try {
        await call(commands.exportRender(r.job!, "png"));
        saved++;
      } catch (e) {
        exported.append(errorBox(e));
      }
    }
    clear(exported, `Exported ${saved} image(s) to your Pictures folder (Figur Studio).`);
  } }, "Export all");
  clear(main, h("h1", {}, "Batch"), h("p", { class: "muted" }, "One job per photo, each with its own progress. Finished images are in the Gallery, where each can be exported."),
    h("div", { class: "row" }, workflow, runAll, cancelAll, retry, exportAll), summary, exported, list);
}

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
