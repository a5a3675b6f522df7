// The stylist rules the engine enforces, asked as the designer picks (the same check `look`
// and `/v1/compatibility/check` use).
import { commands } from "../api";

export const checkLook = (categories: string[]): Promise<string[]> => commands.checkLook(categories);
