/**
 * The shared entrypoint wrapper that renders a configuration template's placeholders
 * from Docker secret files into a memory-only file, then runs the real entrypoint
 * (files/render-secrets.sh). Each family mounts its own copy, so parts stay independent.
 */
import { configSpec, type ConfigSpec } from "../../core/model";
import { familyFile } from "./files";

/** Where the services mount the script. */
export const RENDER_SCRIPT = "/platform/render-secrets.sh";

export function renderSecretsConfig(prefix: string, key: string): ConfigSpec {
  return configSpec(prefix, key, familyFile(__dirname, "render-secrets.sh"));
}
