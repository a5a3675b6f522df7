// The try-on being put together: a person and garments, each garment with the category the
// engine will dress it as. Pure logic, so the screen's rules are tested without a window.
import { GARMENT_CATEGORIES, type Resolution, type TryOnRequest_Deserialize } from "../bindings";
import type { LibraryItem } from "../library/store.svelte";

/** The engine's garment categories (`GET /v1/garment-categories`' keys), generated. */
export const CATEGORIES: readonly string[] = GARMENT_CATEGORIES;

/** The drag payload of a library photo (the library item as JSON). */
export const DRAG_TYPE = "application/x-figur-upload";

export type Garment = { item: LibraryItem; category: string };

/**
 * The category a garment photo most likely is: a tag that names one, else a word of its file
 * name ("red_shirt.jpg" → shirt; the longest match wins, so "t-shirt" beats "shirt"), else top.
 * The designer can change it before the run.
 */
export function guessCategory(item: LibraryItem): string {
  for (const tag of item.tags) if (CATEGORIES.includes(tag)) return tag;
  const name = item.name.toLowerCase();
  const found = CATEGORIES.filter((c) => name.includes(c)).sort((a, b) => b.length - a.length);
  return found[0] ?? "top";
}

/** The try-on request for this person and these garments. */
export function tryOnRequest(person: LibraryItem, garments: Garment[], resolution: Resolution): TryOnRequest_Deserialize {
  return {
    user_image: person.upload_key,
    items: garments.map((g) => ({ trial_image: g.item.upload_key, trial_item_category: g.category })),
    render_params: { resolution },
  };
}

/** Adds a garment unless it is already worn (or is the person). */
export function withGarment(garments: Garment[], person: LibraryItem | null, item: LibraryItem): Garment[] {
  if (person?.upload_key === item.upload_key || garments.some((g) => g.item.upload_key === item.upload_key)) return garments;
  return [...garments, { item, category: guessCategory(item) }];
}
