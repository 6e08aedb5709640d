/**
 * tools/plan-launch.cjs: `npm run plan` runs a cached esbuild bundle with plain node. The cache
 * must never be stale: a changed source file rebuilds it, an unchanged tree reuses it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(__dirname, "..");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ensureBundle } = require("../tools/plan-launch.cjs") as {
  ensureBundle(o: { root: string; entry: string; cacheDir: string }): Promise<{ bundle: string; rebuilt: boolean }>;
};

/** What the bundle exports, read by a fresh node (this process's require cache would hold the old one). */
function exported(bundle: string): { msg: string; here: string } {
  const r = spawnSync(process.execPath, ["-e", `process.stdout.write(JSON.stringify(require(${JSON.stringify(bundle)})))`], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { msg: string; here: string };
}

test("a changed source file rebuilds the bundle and the output shows the change; an unchanged tree reuses it", async () => {
  const root = mkdtempSync(join(tmpdir(), "plan-launch-"));
  try {
    const cacheDir = join(root, ".cache");
    writeFileSync(join(root, "main.ts"), `import { word } from "./lib/word";\nexport const msg: string = "hello " + word;\nexport { here } from "./lib/word";\n`);
    const lib = join(root, "lib");
    mkdirSync(lib);
    writeFileSync(join(lib, "word.ts"), `export const word: string = "one";\nexport const here: string = __dirname;\n`);
    const opts = { root, entry: "main.ts", cacheDir };

    const first = await ensureBundle(opts);
    assert.equal(first.rebuilt, true);
    // __dirname is the module's source directory, so files read at run time are found as under tsx.
    assert.deepEqual(exported(first.bundle), { msg: "hello one", here: lib });
    const built = statSync(first.bundle).mtimeMs;

    const again = await ensureBundle(opts);
    assert.equal(again.rebuilt, false, "an unchanged tree must reuse the bundle");
    assert.equal(statSync(again.bundle).mtimeMs, built);

    // A file only imported (not the entry) changes: the bundle follows.
    writeFileSync(join(lib, "word.ts"), `export const word: string = "two";\nexport const here: string = __dirname;\n`);
    const changed = await ensureBundle(opts);
    assert.equal(changed.rebuilt, true, "a changed source file must rebuild the bundle");
    assert.equal(exported(changed.bundle).msg, "hello two");

    assert.equal((await ensureBundle(opts)).rebuilt, false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("the launcher prints what tools/plan.ts prints under tsx", () => {
  for (const args of [["--help"], ["--stack", "test", "--format", "json"]]) {
    const viaTsx = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "tools", "plan.ts"), ...args], { encoding: "utf8", cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
    const viaLauncher = spawnSync(process.execPath, [join(ROOT, "tools", "plan-launch.cjs"), ...args], { encoding: "utf8", cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
    assert.equal(viaLauncher.status, viaTsx.status, viaLauncher.stderr);
    assert.equal(viaLauncher.stdout, viaTsx.stdout);
    assert.equal(viaLauncher.stderr, viaTsx.stderr);
    assert.ok(viaLauncher.stdout.length > 0);
  }
});
