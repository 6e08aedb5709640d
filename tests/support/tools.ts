import { spawnSync } from "node:child_process";
import type { TestContext } from "node:test";

export function hasTool(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).status === 0;
}

/**
 * True when the tool is on PATH. Otherwise the test is skipped visibly on a
 * developer machine, and fails under CI (CI=true), which must install it.
 */
export function requireTool(t: TestContext, name: string): boolean {
  if (hasTool(name)) return true;
  if (process.env.CI === "true") assert(false, `${name} is required in CI (.ci/run installs it) but is not on PATH`);
  t.skip(`${name} is not installed`);
  return false;
}

function assert(ok: boolean, message: string): asserts ok {
  if (!ok) throw new Error(message);
}
