import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

export interface StackFile {
  readonly path: string;
  /** Config as the Pulumi CLI hands it to a program: `namespace:key` -> string (arrays and objects as JSON). */
  readonly config: Record<string, string>;
  /** Keys the file holds as Pulumi-encrypted `secure:` values. */
  readonly secureKeys: readonly string[];
}

/** The string form the Pulumi CLI gives a program for a stack-file value. */
export function toConfigString(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Reads `Pulumi.<stack>.yaml` from a project directory, without the CLI. */
export function readStackFile(projectDir: string, stack: string): StackFile {
  const path = join(projectDir, `Pulumi.${stack}.yaml`);
  if (!existsSync(path)) throw new Error(`no stack file ${path} (stacks in this project: test, prod)`);
  const doc = (parse(readFileSync(path, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  const config: Record<string, string> = {};
  const secureKeys: string[] = [];
  for (const [key, value] of Object.entries(doc.config ?? {})) {
    if (value && typeof value === "object" && !Array.isArray(value) && "secure" in value) {
      secureKeys.push(key);
      continue;
    }
    config[key] = toConfigString(value);
  }
  return { path, config, secureKeys };
}
