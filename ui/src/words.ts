// Error codes in words a designer understands; the code and detail stay one click away.
const WORDS: Record<string, string> = {
  NO_SUBJECT_FOUND: "No person or product could be found in the photo.",
  GARMENT_NOT_FOUND: "The garment photo seems to be empty.",
  CATEGORY_MISMATCH: "The garment photo does not match the category you chose.",
  REGION_NOT_VISIBLE: "The photo does not show the part of the body this garment needs.",
  NO_CATALOG_MODEL: "There is no model in the catalog yet.",
  MODEL_MISSING: "A model the studio needs is not installed. Open Settings to fetch it.",
  JOB_CANCELLED: "You cancelled this job.",
  INPUT_UNREADABLE: "The image could not be read.",
  INPUT_TOO_LARGE: "The image is too large.",
  VALIDATION_ERROR: "Something in the request needs fixing.",
  INSUFFICIENT_BALANCE: "There are not enough credits left.",
  DISK_FULL: "The disk is full. Free some space and try again.",
  FILE_UNREADABLE: "The file could not be read.",
};

export function explain(code: string, message: string): string {
  return WORDS[code] ?? message;
}
