/**
 * Reviewed snapshots of long generated documents, under tests/snapshots/. A test
 * compares what the program generates with the committed file; when a change is
 * meant, regenerate them and review the diff before committing:
 *
 *   UPDATE_SNAPSHOTS=1 node --import tsx --test tests/snapshots.test.ts
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ROOT } from "./config";

export const SNAPSHOT_DIR = join(ROOT, "tests", "snapshots");

export function matchSnapshot(name: string, actual: string): void {
  const path = join(SNAPSHOT_DIR, name);
  if (process.env.UPDATE_SNAPSHOTS === "1") {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  if (!existsSync(path)) assert.fail(`no snapshot ${path}: run UPDATE_SNAPSHOTS=1 node --import tsx --test <this test file>, review it and commit it`);
  assert.equal(actual, readFileSync(path, "utf8"), `${name} differs from its reviewed snapshot (if the change is meant: UPDATE_SNAPSHOTS=1, review the diff, commit)`);
}
