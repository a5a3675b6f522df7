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
