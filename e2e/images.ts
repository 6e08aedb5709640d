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
import type { ImageFamily } from "../specs/images";

/** The families whose images the drills build: every one Debian packages. */
export type LocalFamily = Extract<
  ImageFamily,
  "redis" | "haproxy" | "rabbitmq" | "etcd" | "prometheus" | "alertmanager" | "nodeExporter" | "redisExporter"
>;

/** Debian has no Vault, APISIX/OpenResty, Grafana, cAdvisor or Caddy: these stay covered by the unit tests. */
export const UNBUILDABLE_FAMILIES: readonly ImageFamily[] = ["vault", "apisix", "apisixDashboard", "grafana", "cadvisor", "edge"];

export interface ImageRecipe {
  /** Image family, or "client" for the drills' own client. */
  readonly name: LocalFamily | "client";
  readonly packages: readonly string[];
  /**
   * In order: shell commands run in the finished root filesystem (chroot) as root, or files
   * of e2e/images/ copied into it.
   */
  readonly customize: readonly (string | { readonly upload: string; readonly to: string })[];
  /** `docker import --change` instructions. */
  readonly changes: readonly string[];
  /** Package files left out (dpkg path-exclude) beyond the documentation every image drops. */
  readonly excludes?: readonly string[];
  /** Why the image differs from a plain install, for the README. */
  readonly notes: string;
}

/** Files Docker images never need; leaving them out keeps every image small. */
const DPKG_EXCLUDES = ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*", "/usr/share/lintian/*"];

/** Where the official prom/* images keep their data, owned by nobody as they run. */
const NOBODY = "65534";

export const RECIPES: readonly ImageRecipe[] = [
  {
    name: "redis",
    packages: ["redis-server", "redis-sentinel", "redis-tools"],
    customize: ["install -d -o redis -g redis -m 0750 /data"],
    changes: ["WORKDIR /data", 'CMD ["redis-server"]'],
    notes: "data members and Sentinels; /data owned by redis as in the official image",
  },
  {
    name: "haproxy",
    packages: ["haproxy", "bash"],
    customize: ["install -d /usr/local/etc/haproxy"],
    changes: ['CMD ["haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]'],
    notes: "the stable redis endpoint; the official image's config folder /usr/local/etc/haproxy",
  },
  {
    name: "rabbitmq",
    packages: ["rabbitmq-server"],
    customize: [
      "install -d -o rabbitmq -g rabbitmq -m 0750 /var/lib/rabbitmq /var/log/rabbitmq",
      "install -d /usr/local/lib/e2e-bin",
      { upload: "rabbitmq-seed-first.sh", to: "/usr/local/lib/e2e-bin/rabbitmq-server" },
      "chmod 0755 /usr/local/lib/e2e-bin/rabbitmq-server",
    ],
    // Debian's wrappers in /usr/sbin send the server's console output to a file and su to the
    // rabbitmq user; the official image puts the plain scripts first on PATH, logging to stdout.
    // Before them, the seed-first wrapper (see e2e/images/rabbitmq-seed-first.sh).
    changes: [
      "ENV PATH=/usr/local/lib/e2e-bin:/usr/lib/rabbitmq/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "ENV HOME=/var/lib/rabbitmq",
      'CMD ["rabbitmq-server"]',
    ],
    notes:
      "the plain RabbitMQ scripts on PATH (Debian's wrappers log to a file), HOME /var/lib/rabbitmq, and a wrapper that " +
      "gives RabbitMQ 3.10 the seed-node first formation of 3.13+ (the production image's 4.0)",
  },
  {
    name: "etcd",
    packages: ["etcd-server", "etcd-client"],
    customize: ["install -d -m 0700 /var/lib/etcd"],
    changes: ['CMD ["etcd"]'],
    notes: "etcd and etcdctl on PATH, as in the official image",
  },
  {
    name: "prometheus",
    packages: ["prometheus", "wget"],
    // 210 MB of time zone data for the web UI's clock; the server and its API never read it.
    excludes: ["/usr/share/javascript/moment-timezone/*"],
    customize: [`install -d -o ${NOBODY} -g ${NOBODY} /prometheus`, "install -d /usr/share/prometheus/console_libraries /usr/share/prometheus/consoles"],
    changes: [`USER ${NOBODY}`, "WORKDIR /prometheus", 'ENTRYPOINT ["/usr/bin/prometheus"]'],
    notes: "entrypoint /usr/bin/prometheus as user nobody, /prometheus owned by nobody (the official layout)",
  },
  {
    name: "alertmanager",
    packages: ["prometheus-alertmanager", "wget"],
    customize: [`install -d -o ${NOBODY} -g ${NOBODY} /alertmanager`],
    changes: [`USER ${NOBODY}`, "WORKDIR /alertmanager", 'ENTRYPOINT ["/usr/bin/prometheus-alertmanager"]'],
    notes: "entrypoint /usr/bin/prometheus-alertmanager as user nobody, /alertmanager owned by nobody",
  },
  {
    name: "nodeExporter",
    packages: ["prometheus-node-exporter", "wget"],
    customize: [],
    changes: [`USER ${NOBODY}`, 'ENTRYPOINT ["/usr/bin/prometheus-node-exporter"]'],
    notes: "entrypoint /usr/bin/prometheus-node-exporter as user nobody",
  },
  {
    name: "redisExporter",
    packages: ["prometheus-redis-exporter", "wget", "mawk"],
    customize: ["ln -sf /usr/bin/prometheus-redis-exporter /redis_exporter"],
    changes: ["USER 59000:59000", 'ENTRYPOINT ["/redis_exporter"]'],
    notes: "/redis_exporter as in the official image, user 59000 (the owner the spec gives its secret file)",
  },
  {
    name: "client",
    packages: ["redis-tools", "etcd-client", "python3", "python3-pika", "python3-redis"],
    customize: [],
    changes: ['CMD ["sleep", "infinity"]'],
    notes: "the drills' client: redis-cli, etcdctl, python3 with pika and redis",
  },
];

export function recipe(name: ImageRecipe["name"]): ImageRecipe {
  const found = RECIPES.find((r) => r.name === name);
  if (!found) throw new Error(`no image recipe named ${name}`);
  return found;
}

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

export const FILES_DIR = path.join(__dirname, "images");

/** Content key of a root filesystem: the same packages, hooks and files on the same package snapshot give the same key. */
export function rootfsKey(r: ImageRecipe, fingerprint: string): string {
  const files = r.customize.map((step) => (typeof step === "string" ? step : fs.readFileSync(path.join(FILES_DIR, step.upload), "utf8")));
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
    else args.push(`--customize-hook=upload ${path.join(FILES_DIR, step.upload)} ${step.to}`);
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
