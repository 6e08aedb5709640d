/**
 * Local images for the end-to-end drills, built from Debian packages: no registry is
 * reachable, so each service family Debian can provide gets a root filesystem made by
 * mmdebstrap (from the machine's own apt sources) and imported with `docker import`.
 *
 * The platform's specs are written for the official images. Where their layout differs
 * from Debian's, the image is made compatible at build time (a symlink, a folder owned
 * by the right user, an entrypoint), never by changing a spec.
 *
 * Builds are cached by content: the cache key hashes the recipe, mmdebstrap's version
 * and the apt sources, so a second run skips the build and a changed recipe or package
 * snapshot rebuilds.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ImageRecipe } from "../families/kit/e2e-recipe";
import { FAMILIES } from "../platform/registry";

export type { ImageRecipe } from "../families/kit/e2e-recipe";

/** Files Docker images never need; leaving them out keeps every image small. */
const DPKG_EXCLUDES = ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*", "/usr/share/lintian/*"];

/** The drills' own client. */
export const CLIENT_RECIPE: ImageRecipe = {
  name: "client",
  packages: ["redis-tools", "etcd-client", "python3", "python3-pika", "python3-redis"],
  customize: [],
  changes: ['CMD ["sleep", "infinity"]'],
  notes: "the drills' client: redis-cli, etcdctl, python3 with pika and redis",
};

/**
 * Every image the drills build: each family's recipes (for the images Debian packages;
 * Vault, APISIX, Grafana, cAdvisor and Caddy it does not, and those stay covered by the
 * unit tests), then the client.
 */
export const RECIPES: readonly ImageRecipe[] = [...FAMILIES.flatMap((f) => f.e2eImages ?? []), CLIENT_RECIPE];

export const SUITE = "bookworm";

/** Reads what the build depends on beyond the recipe: mmdebstrap's version and the apt sources. */
export function buildEnvironmentFingerprint(): string {
  const version = spawnSync("mmdebstrap", ["--version"], { encoding: "utf8" }).stdout ?? "";
  const sources: string[] = [];
  for (const file of ["/etc/apt/sources.list", ...listDir("/etc/apt/sources.list.d")]) {
    try {
      sources.push(`${file}\n${fs.readFileSync(file, "utf8")}`);
    } catch {
      // absent
    }
  }
  return `${version.trim()}\n${sources.join("\n")}`;
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort().map((entry) => path.join(dir, entry));
  } catch {
    return [];
  }
}

const hash12 = (content: string): string => createHash("sha256").update(content).digest("hex").slice(0, 12);

function uploadPath(r: ImageRecipe, upload: string): string {
  if (!r.filesDir) throw new Error(`image recipe ${r.name} uploads ${upload} but names no filesDir`);
  return path.join(r.filesDir, upload);
}

/** Content key of a root filesystem: the same packages, hooks and files on the same package snapshot give the same key. */
export function rootfsKey(r: ImageRecipe, fingerprint: string): string {
  const files = r.customize.map((step) => (typeof step === "string" ? step : fs.readFileSync(uploadPath(r, step.upload), "utf8")));
  return hash12(JSON.stringify({ suite: SUITE, packages: r.packages, customize: r.customize, files, excludes: [...DPKG_EXCLUDES, ...(r.excludes ?? [])], fingerprint }));
}

/** Content key of an image: its root filesystem and the import's metadata (entrypoint, user, environment). */
export function imageKey(r: ImageRecipe, fingerprint: string): string {
  return hash12(JSON.stringify({ rootfs: rootfsKey(r, fingerprint), changes: r.changes }));
}

/** Docker reference of a built image: e2e-<name>:<key> (a pinned tag, as the settings demand). */
export function imageRef(r: ImageRecipe, key: string): string {
  return `swarm-platform-e2e/${r.name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}:${key}`;
}

/** mmdebstrap's arguments for a recipe. */
export function mmdebstrapArgs(r: ImageRecipe, output: string): string[] {
  const args = ["--variant=essential", "--mode=root", "--format=tar", `--include=${r.packages.join(",")}`];
  for (const exclude of [...DPKG_EXCLUDES, ...(r.excludes ?? [])]) args.push(`--dpkgopt=path-exclude=${exclude}`);
  for (const step of r.customize) {
    if (typeof step === "string") args.push(`--customize-hook=chroot "$1" sh -ec '${step.replace(/'/g, `'"'"'`)}'`);
    else args.push(`--customize-hook=upload ${uploadPath(r, step.upload)} ${step.to}`);
  }
  // The image needs no apt lists or caches.
  args.push('--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*');
  args.push(SUITE, output);
  return args;
}

export interface BuiltImage {
  readonly recipe: ImageRecipe;
  readonly ref: string;
  /** The root filesystem tarball in the cache. */
  readonly tarball: string;
  readonly cached: boolean;
  readonly buildSeconds: number;
}

function runLogged(cmd: string, args: readonly string[], logFile: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const fd = fs.openSync(logFile, "w");
    const child = spawn(cmd, args, { stdio: ["ignore", fd, fd] });
    fs.closeSync(fd);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else {
        const tail = fs.readFileSync(logFile, "utf8").trimEnd().split("\n").slice(-15).join("\n");
        reject(new Error(`${cmd} exited ${code ?? signal} (log ${logFile}):\n${tail}`));
      }
    });
  });
}

export interface BuildOptions {
  readonly cacheDir: string;
  /** Builds at once (each mostly waits on dpkg and the disk). */
  readonly concurrency?: number;
  readonly timeoutMs?: number;
  readonly log: (line: string) => void;
}

/** Builds every recipe missing from the cache; returns all of them, cached or new. */
export async function buildImages(recipes: readonly ImageRecipe[], options: BuildOptions): Promise<BuiltImage[]> {
  fs.mkdirSync(options.cacheDir, { recursive: true });
  const fingerprint = buildEnvironmentFingerprint();
  const results: BuiltImage[] = [];
  const queue = [...recipes];
  const worker = async (): Promise<void> => {
    for (let r = queue.shift(); r !== undefined; r = queue.shift()) {
      const tarball = path.join(options.cacheDir, `${r.name}-${rootfsKey(r, fingerprint)}.tar`);
      const ref = imageRef(r, imageKey(r, fingerprint));
      if (fs.existsSync(tarball)) {
        results.push({ recipe: r, ref, tarball, cached: true, buildSeconds: 0 });
        continue;
      }
      const started = Date.now();
      options.log(`building ${ref} from ${r.packages.join(", ")}`);
      const partial = `${tarball}.partial`;
      try {
        await runLogged("mmdebstrap", mmdebstrapArgs(r, partial), `${tarball}.log`, options.timeoutMs ?? 600_000);
        fs.renameSync(partial, tarball);
      } finally {
        fs.rmSync(partial, { force: true });
      }
      const buildSeconds = (Date.now() - started) / 1000;
      options.log(`built ${ref} in ${buildSeconds.toFixed(1)} s (${(fs.statSync(tarball).size / 1e6).toFixed(0)} MB)`);
      results.push({ recipe: r, ref, tarball, cached: false, buildSeconds });
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 2 }, worker));
  // Older builds of the same recipes are dead weight.
  const current = new Set(results.map((b) => path.basename(b.tarball)));
  for (const entry of fs.readdirSync(options.cacheDir)) {
    const m = /^(.+)-[0-9a-f]{12}\.tar(\.log)?$/.exec(entry);
    if (m && recipes.some((r) => r.name === m[1]) && !current.has(entry.replace(/\.log$/, ""))) {
      fs.rmSync(path.join(options.cacheDir, entry), { force: true });
    }
  }
  return recipes.map((r) => {
    const built = results.find((b) => b.recipe === r);
    if (!built) throw new Error(`image ${r.name} was not built`);
    return built;
  });
}

/** `docker import` arguments for a built image. */
export function importArgs(image: BuiltImage): string[] {
  return ["import", ...image.recipe.changes.flatMap((change) => ["--change", change]), image.tarball, image.ref];
}
