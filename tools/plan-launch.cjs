#!/usr/bin/env node
/**
 * `npm run plan` without a TypeScript loader: bundles tools/plan.ts and the project's own modules
 * (npm packages stay external, loaded by Node as usual) with esbuild into .cache/plan/, then runs
 * that JavaScript with plain node. Half of the plan's start-up was tsx's loader hook compiling
 * and resolving the same sources on every run; see docs/plan.md, "Speed".
 *
 * Never stale: the cache records every source file esbuild read and a hash over their contents
 * (plus tsconfig.json, this file and esbuild's version). Each run hashes those files again (a few
 * milliseconds) and rebuilds when anything differs. A new file only enters the bundle through an
 * import in a file that changed, so the hash sees it too. Files the program reads at run time
 * (scripts, dashboards) are read from the source tree, as under tsx: each module's `__dirname` is
 * its source directory.
 *
 * `pulumi preview`/`pulumi up` do not use this: the Pulumi CLI runs index.ts with its own
 * TypeScript support, as before.
 */
"use strict";
const { createHash } = require("node:crypto");
const { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = require("node:fs");
const { dirname, join, relative, resolve, sep } = require("node:path");

const ROOT = resolve(__dirname, "..");

/** Hash over what decides the bundle's content: the listed sources, the build settings, esbuild. */
function sourceKey(root, inputs, seen = new Map()) {
  const h = createHash("sha256");
  h.update(`${require("esbuild/package.json").version}\0${root}\0`);
  h.update(readFileSync(__filename));
  for (const file of ["tsconfig.json", ...inputs].sort()) {
    h.update(`\0${file}\0`);
    const path = join(root, file);
    h.update(seen.get(path) ?? (existsSync(path) ? readFileSync(path) : "(missing)"));
  }
  return h.digest("hex");
}

/**
 * esbuild plugin: `__dirname`/`__filename` of a project module mean its source location, not the
 * bundle's. Records the bytes it compiled in `seen`, so that the key describes what was bundled
 * even if a file changes during the build.
 */
const sourceLocation = (seen) => ({
  name: "source-location",
  setup(build) {
    build.onLoad({ filter: /\.[cm]?ts$/ }, (args) => {
      if (args.path.split(sep).includes("node_modules")) return undefined;
      const raw = readFileSync(args.path);
      seen.set(args.path, raw);
      const text = raw.toString("utf8")
        .replace(/\b__dirname\b/g, JSON.stringify(dirname(args.path)))
        .replace(/\b__filename\b/g, JSON.stringify(args.path));
      return { contents: text, loader: "ts" };
    });
  },
});

/**
 * The bundle of `entry` (a path relative to `root`) in `cacheDir`, rebuilt when its sources changed.
 * Returns its path and whether this call rebuilt it.
 */
async function ensureBundle({ root = ROOT, entry = "tools/plan.ts", cacheDir = join(root, ".cache", "plan") } = {}) {
  const name = entry.replace(/[^A-Za-z0-9]+/g, "-");
  // The bundle's file name carries its key, so a manifest always names the bundle built from the
  // sources it hashed, even when two runs rebuild at once.
  const bundleOf = (key) => join(cacheDir, `${name}-${key.slice(0, 16)}.cjs`);
  const manifestPath = join(cacheDir, `${name}.json`);
  if (existsSync(manifestPath)) {
    try {
      const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
      if (manifest.key === sourceKey(root, manifest.inputs) && existsSync(bundleOf(manifest.key))) {
        return { bundle: bundleOf(manifest.key), rebuilt: false };
      }
    } catch {
      // An unreadable manifest is a cache miss.
    }
  }
  const esbuild = require("esbuild");
  const seen = new Map();
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [join(root, entry)],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    packages: "external",
    metafile: true,
    write: false,
    logLevel: "silent",
    plugins: [sourceLocation(seen)],
  });
  const inputs = Object.keys(result.metafile.inputs)
    .map((p) => relative(root, resolve(root, p)).split(sep).join("/"))
    .filter((p) => !p.startsWith("node_modules/"));
  const key = sourceKey(root, inputs, seen);
  const bundle = bundleOf(key);
  mkdirSync(cacheDir, { recursive: true });
  // Older bundles of this entry go, unless recent: a concurrent run may be about to load one.
  for (const f of readdirSync(cacheDir)) {
    const path = join(cacheDir, f);
    if (f.startsWith(`${name}-`) && f.endsWith(".cjs") && path !== bundle && Date.now() - statSync(path).mtimeMs > 600_000) rmSync(path, { force: true });
  }
  // Written under a private name, then renamed: a concurrent run sees the old file or the new one.
  const tmp = `.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(bundle + tmp, result.outputFiles[0].contents);
  renameSync(bundle + tmp, bundle);
  writeFileSync(manifestPath + tmp, JSON.stringify({ key, inputs }, null, 2) + "\n");
  renameSync(manifestPath + tmp, manifestPath);
  return { bundle, rebuilt: true };
}

module.exports = { ensureBundle };

if (require.main === module) {
  ensureBundle().then(
    ({ bundle }) => require(bundle).runCli(process.argv.slice(2)),
    (e) => {
      process.stderr.write(`plan: could not build the plan: ${e && e.stack ? e.stack : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
