import { readFileSync } from "node:fs";
import { join } from "node:path";

/** A file a family ships in its own `files/` folder (entrypoint scripts, templates), read at build time. */
export function familyFile(familyDir: string, name: string): string {
  return readFileSync(join(familyDir, "files", name), "utf8");
}
