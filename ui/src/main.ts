import "./style.css";
import { getCurrentWebview } from "@tauri-apps/api/webview";
import { mount } from "svelte";
import App from "./App.svelte";
import { handOffImport } from "./handoff";
import { go } from "./router.svelte";

if (matchMedia("(prefers-color-scheme: dark)").matches) document.documentElement.classList.add("dark");
mount(App, { target: document.getElementById("app")! });

// Files and folders dropped anywhere are imported into the library.
void getCurrentWebview().onDragDropEvent((e) => {
  if (e.payload.type === "drop") {
    handOffImport(e.payload.paths);
    go("library");
  }
}).catch(() => undefined);
