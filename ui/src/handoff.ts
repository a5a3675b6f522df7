// "Use as input": a render put into the library travels to the next screen, which preselects it.
let pending: string | null = null;

/** Leaves an upload key for the next screen that picks a photo. */
export function handOff(uploadKey: string): void {
  pending = uploadKey;
}

/** The upload key left for this screen, once. */
export function takeHandOff(): string | null {
  const key = pending;
  pending = null;
  return key;
}

type Importer = (paths: string[]) => void;
let importer: Importer | null = null;
let pendingPaths: string[] = [];

/** Files dropped on the window: imported by the library screen now, or as soon as it is shown. */
export function handOffImport(paths: string[]): void {
  if (importer) importer(paths);
  else pendingPaths.push(...paths);
}

/** The library screen takes the imports while it is shown; returns the release. */
export function takeImports(run: Importer): () => void {
  importer = run;
  if (pendingPaths.length) {
    const paths = pendingPaths;
    pendingPaths = [];
    run(paths);
  }
  return () => {
    if (importer === run) importer = null;
  };
}
