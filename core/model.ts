/**
 * The engine-neutral model of every Swarm object the platform needs. Plain data,
 * no Pulumi: the Pulumi docker renderer (components/), the stack-file renderer
 * (render/) and the plan report all read the same PlatformSpec.
 *
 * Rules the model encodes:
 * - configs never contain secrets; secrets reach containers only as files;
 * - configs and secrets are named by content hash (Swarm cannot update them in place);
 * - every service has a pinned image, limits, reservations, a healthcheck, a stop
 *   grace period, a restart policy, update/rollback configs and placement.
 */
import { contentHash } from "../lib/hash";
import { swarmObjectName } from "./naming";

/**
 * Go-style duration in the form Docker's provider reads back: "10s", "1m30s", "1m"
 * (never "60s" or "1m0s"); see canonicalDuration.
 */
export type Duration = string;

const DURATION_UNITS: Readonly<Record<string, bigint>> = {
  ns: 1n, us: 1000n, "\u00b5s": 1000n, "\u03bcs": 1000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n,
};

/** Nanoseconds of a Go duration ("1h2m3.5s", "500ms"), as time.ParseDuration reads it; undefined when Go would refuse it. */
export function parseGoDuration(text: string): bigint | undefined {
  if (text === "0") return 0n;
  const unit = /(\d+)(?:\.(\d+))?(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/y;
  let total = 0n;
  let at = 0;
  while (at < text.length) {
    unit.lastIndex = at;
    const m = unit.exec(text);
    if (!m) return undefined;
    const scale = DURATION_UNITS[m[3]];
    const fraction = m[2] ?? "";
    total += BigInt(m[1]) * scale + (fraction === "" ? 0n : (BigInt(fraction) * scale) / 10n ** BigInt(fraction.length));
    at = unit.lastIndex;
  }
  return at === 0 ? undefined : total;
}

/** Go's time.Duration.String() for a non-negative duration. */
function goDurationString(ns: bigint): string {
  if (ns === 0n) return "0s";
  const fixed = (value: bigint, digits: number): string => {
    const whole = value / 10n ** BigInt(digits);
    const frac = (value % 10n ** BigInt(digits)).toString().padStart(digits, "0").replace(/0+$/, "");
    return frac === "" ? String(whole) : `${whole}.${frac}`;
  };
  if (ns < 1000n) return `${ns}ns`;
  if (ns < 1_000_000n) return `${fixed(ns, 3)}\u00b5s`;
  if (ns < 1_000_000_000n) return `${fixed(ns, 6)}ms`;
  const hours = ns / 3_600_000_000_000n;
  const minutes = (ns / 60_000_000_000n) % 60n;
  const seconds = fixed(ns % 60_000_000_000n, 9);
  if (hours > 0n) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0n) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

/**
 * The form the Docker provider stores a duration in after every create and update:
 * Go's Duration.String() with a trailing "m0s" / "h0m" trimmed ("60s" -> "1m",
 * "1h0m0s" -> "1h"). A spec written in another form diffs on every preview
 * (kreuzwerker/terraform-provider-docker@v4.5.0 internal/provider/resource_docker_service_structures.go:1341-1350).
 */
export function canonicalDuration(text: string): string | undefined {
  const ns = parseGoDuration(text);
  if (ns === undefined) return undefined;
  let s = goDurationString(ns);
  if (s.endsWith("m0s")) s = s.slice(0, -2);
  if (s.endsWith("h0m")) s = s.slice(0, -2);
  return s;
}

/** Every duration of a service the provider reads back, by its path in the spec. */
export function serviceDurations(s: ServiceSpec): [string, Duration][] {
  return [
    ["healthcheck.interval", s.healthcheck.interval],
    ["healthcheck.timeout", s.healthcheck.timeout],
    ["healthcheck.startPeriod", s.healthcheck.startPeriod],
    ["stopGracePeriod", s.stopGracePeriod],
    ["restartPolicy.delay", s.restartPolicy.delay],
    ["restartPolicy.window", s.restartPolicy.window],
    ["update.delay", s.update.delay],
    ["update.monitor", s.update.monitor],
    ["rollback.delay", s.rollback.delay],
    ["rollback.monitor", s.rollback.monitor],
  ];
}

/** The highest tmpfs mode Docker reads back unchanged: it keeps the permission bits only (FileMode.Perm()). */
export const MAX_TMPFS_MODE = 0o777;

/**
 * Values a service must carry in the form Docker and the provider read back, or
 * every preview after `up` shows a change: canonical durations, tmpfs modes without
 * sticky/setuid bits, update ratios with one decimal. Programming errors, so they throw.
 */
export function checkReadBackForms(s: ServiceSpec): void {
  const problems: string[] = [];
  for (const [path, value] of serviceDurations(s)) {
    const canonical = canonicalDuration(value);
    if (canonical === undefined) problems.push(`${path} "${value}" is no Go duration (e.g. "30s", "1m30s")`);
    else if (canonical !== value) problems.push(`${path} "${value}" is read back as "${canonical}": write "${canonical}"`);
  }
  for (const m of s.mounts) {
    if (m.tmpfsMode !== undefined && (m.tmpfsMode < 0 || m.tmpfsMode > MAX_TMPFS_MODE)) {
      problems.push(`tmpfs ${m.target} mode 0o${m.tmpfsMode.toString(8)} is read back as 0o${(m.tmpfsMode & MAX_TMPFS_MODE).toString(8)}: use permission bits only (at most 0o777)`);
    }
  }
  for (const [path, ratio] of [["update.maxFailureRatio", s.update.maxFailureRatio], ["rollback.maxFailureRatio", s.rollback.maxFailureRatio]] as const) {
    if (!(ratio >= 0 && ratio <= 1) || Number(ratio.toFixed(1)) !== ratio) problems.push(`${path} ${ratio} is read back with one decimal: use 0, 0.1, ... 1`);
  }
  if (problems.length > 0) throw new Error(`service ${s.name}: ${problems.join("; ")}`);
}

export interface NetworkSpec {
  /** Key services use to refer to it, e.g. "backend". */
  readonly key: string;
  /** Swarm name, e.g. "prod_backend". */
  readonly name: string;
  readonly driver: "overlay";
  readonly attachable: boolean;
  /** No route out of the network: backend-only traffic. */
  readonly internal: boolean;
  readonly encrypted: boolean;
  readonly mtu: number;
  readonly labels: Readonly<Record<string, string>>;
  /**
   * VXLAN network identifier, fixed per network (OVERLAY_VNI in core/networks.ts).
   * Docker reports the VNI back among the options, which force a replacement: an
   * unnamed one would be "added" after every create and replace the network on
   * the next `up`.
   */
  readonly vni: number;
  /** A fixed subnet, when something must know the range before deploy (otherwise Swarm picks one from its pool). */
  readonly subnet?: string;
  /** With a fixed subnet: the gateway Docker would assign itself (the first host), so the read-back equals the request. */
  readonly gateway?: string;
}

export interface VolumeSpec {
  readonly key: string;
  readonly name: string;
  readonly driver: "local";
  readonly labels: Readonly<Record<string, string>>;
  /** Node the volume lives on, for stateful members pinned to a node. */
  readonly node?: string;
}

/** Where a secret's value comes from; the value itself never enters the model. */
export type SecretSource =
  | { readonly kind: "random"; readonly length: number; readonly special: boolean }
  /** A secret setting of the stack (pulumi config set --secret <setting>). */
  | { readonly kind: "setting"; readonly setting: string };

export interface SecretSpec {
  readonly key: string;
  /** Name prefix; the renderers append a hash of the value: `<namePrefix>_<hash>`. */
  readonly namePrefix: string;
  readonly source: SecretSource;
  readonly description: string;
}

export interface ConfigSpec {
  readonly key: string;
  /** Full name including the content hash, e.g. "prod_redis-conf_1a2b3c4d5e". */
  readonly name: string;
  readonly content: string;
}

export interface PortSpec {
  readonly target: number;
  readonly published: number;
  readonly protocol: "tcp" | "udp";
  /** host: only on the node that runs the task; ingress: the routing mesh on every node. */
  readonly mode: "host" | "ingress";
}

/**
 * What a container may do beyond its own process: a read-only root filesystem (writes go
 * to volumes and tmpfs mounts only) and Linux capabilities. The Docker provider's service
 * resource has no no-new-privileges, pids limit or ulimits (docs/provider-facts.md §3
 * fact 24): those are daemon-wide settings, outside the service model.
 */
export interface Hardening {
  readonly readOnlyRootFs: boolean;
  /** Dropped capabilities, "ALL" for every one. */
  readonly capDrop: readonly string[];
  /** Capabilities given back after the drop (e.g. NET_BIND_SERVICE). */
  readonly capAdd: readonly string[];
}

/** The hardening of a process that needs no capability and writes only to its mounts. */
export const LOCKED_DOWN: Hardening = { readOnlyRootFs: true, capDrop: ["ALL"], capAdd: [] };

/** No capability, but a writable root filesystem (the image writes outside its mounts). */
export const NO_CAPABILITIES: Hardening = { readOnlyRootFs: false, capDrop: ["ALL"], capAdd: [] };

export interface ListenSpec {
  readonly port: number;
  /** What the port serves, e.g. "client", "peer", "admin API", "metrics". */
  readonly what: string;
}

export interface FileRef {
  /** Key of a SecretSpec or ConfigSpec. */
  readonly key: string;
  /** Absolute path in the container (secrets usually under /run/secrets/). */
  readonly target: string;
  readonly mode: number;
  readonly uid?: string;
  readonly gid?: string;
}

export interface MountSpec {
  /** tmpfs: memory-only, for files rendered from secrets at start (never written to a disk). */
  readonly type: "volume" | "bind" | "tmpfs";
  /** Volume key (type volume), host path (type bind), or "" (type tmpfs). */
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
  /** type tmpfs: size limit in bytes. */
  readonly tmpfsSizeBytes?: number;
  /**
   * type tmpfs: permission bits of the mount point (0o777 for a non-root user). Bits above
   * 0o777 (sticky, setuid) are refused: Docker reads back FileMode.Perm(), so they would diff forever.
   */
  readonly tmpfsMode?: number;
}

export interface Resources {
  readonly limits: { readonly cpus: number; readonly memoryBytes: number };
  readonly reservations: { readonly cpus: number; readonly memoryBytes: number };
}

export interface Healthcheck {
  /** ["CMD", ...] or ["CMD-SHELL", "..."]. */
  readonly test: readonly string[];
  readonly interval: Duration;
  readonly timeout: Duration;
  readonly retries: number;
  readonly startPeriod: Duration;
}

export interface UpdatePolicy {
  readonly parallelism: number;
  readonly delay: Duration;
  readonly failureAction: "rollback" | "pause" | "continue";
  readonly monitor: Duration;
  readonly maxFailureRatio: number;
  readonly order: "start-first" | "stop-first";
}

export interface ServiceSpec {
  /** Swarm service name without the stack prefix, e.g. "redis-1". */
  readonly name: string;
  /** Family: redis, sentinel, redis-endpoint, rabbitmq, etcd, vault, apisix, prometheus, ... */
  readonly component: string;
  readonly image: string;
  readonly entrypoint?: readonly string[];
  readonly command?: readonly string[];
  /** Plain settings only; a secret never goes here (policy and tests check). */
  readonly env: Readonly<Record<string, string>>;
  readonly hostname?: string;
  readonly user?: string;
  /** Container hardening, where the image allows it; absent: Docker's defaults. */
  readonly hardening?: Hardening;
  readonly mode: { readonly replicas: number } | { readonly global: true };
  readonly endpointMode: "vip" | "dnsrr";
  readonly ports: readonly PortSpec[];
  /**
   * The ports the container listens on and what each serves, for the reachability
   * matrix (analysis/reachability.ts). Not rendered: Swarm does not filter ports inside
   * an overlay network, so whoever shares a network with the service reaches all of them.
   */
  readonly listens?: readonly ListenSpec[];
  readonly networks: readonly { readonly key: string; readonly aliases: readonly string[] }[];
  readonly secrets: readonly FileRef[];
  readonly configs: readonly FileRef[];
  readonly mounts: readonly MountSpec[];
  readonly placement: {
    readonly constraints: readonly string[];
    /** Spread preferences, e.g. "node.labels.location". */
    readonly spread: readonly string[];
    readonly maxReplicasPerNode?: number;
  };
  /** The node a stateful member is pinned to. */
  readonly node?: string;
  readonly resources: Resources;
  readonly healthcheck: Healthcheck;
  readonly stopGracePeriod: Duration;
  readonly restartPolicy: {
    readonly condition: "any" | "on-failure" | "none";
    readonly delay: Duration;
    readonly maxAttempts: number;
    readonly window: Duration;
  };
  readonly update: UpdatePolicy;
  readonly rollback: UpdatePolicy;
  readonly labels: Readonly<Record<string, string>>;
  /** One service per member with its own volume and stable hostname. */
  readonly stateful: boolean;
  /**
   * Name of the service that must be converged before this one is created or
   * updated: members of one family roll one at a time instead of all at once.
   * Only the Pulumi renderer can order services; a stack file cannot.
   */
  readonly after?: string;
}

export interface PlatformSpec {
  readonly networks: readonly NetworkSpec[];
  readonly volumes: readonly VolumeSpec[];
  readonly secrets: readonly SecretSpec[];
  readonly configs: readonly ConfigSpec[];
  readonly services: readonly ServiceSpec[];
}

export const EMPTY_PLATFORM: PlatformSpec = { networks: [], volumes: [], secrets: [], configs: [], services: [] };

/** Merges parts; a key or name declared twice is a programming error. */
export function mergePlatform(...parts: PlatformSpec[]): PlatformSpec {
  const merged: PlatformSpec = {
    networks: parts.flatMap((p) => p.networks),
    volumes: parts.flatMap((p) => p.volumes),
    secrets: parts.flatMap((p) => p.secrets),
    configs: parts.flatMap((p) => p.configs),
    services: parts.flatMap((p) => p.services),
  };
  const dupes = (label: string, ids: string[]): void => {
    const seen = new Set<string>();
    for (const id of ids) {
      if (seen.has(id)) throw new Error(`platform spec declares ${label} ${id} twice`);
      seen.add(id);
    }
  };
  dupes("network", merged.networks.map((n) => n.key));
  dupes("volume", merged.volumes.map((v) => v.key));
  dupes("secret", merged.secrets.map((s) => s.key));
  dupes("config", merged.configs.map((c) => c.key));
  dupes("service", merged.services.map((s) => s.name));
  for (const s of merged.services) checkReadBackForms(s);
  return merged;
}

/** A config named by its content, so a change creates a new config and services roll to it. */
export function configSpec(prefix: string, key: string, content: string): ConfigSpec {
  return { key, name: `${swarmObjectName(prefix, key)}_${contentHash(content)}`, content };
}

/** Update policy of a stateful member: one at a time, old stops before the new starts (volumes are exclusive). */
export const STATEFUL_UPDATE: UpdatePolicy = {
  parallelism: 1,
  delay: "10s",
  failureAction: "rollback",
  monitor: "30s",
  maxFailureRatio: 0,
  order: "stop-first",
};

/** Update policy of a stateless service: new task healthy before the old one stops. */
export const STATELESS_UPDATE: UpdatePolicy = {
  parallelism: 1,
  delay: "5s",
  failureAction: "rollback",
  monitor: "20s",
  maxFailureRatio: 0,
  order: "start-first",
};

/** What a rollback does: the same pace, and pause (not loop) if the rollback itself fails. */
export function rollbackOf(update: UpdatePolicy): UpdatePolicy {
  return { ...update, failureAction: "pause" };
}

export const RESTART_ANY = { condition: "any", delay: "5s", maxAttempts: 0, window: "2m" } as const;
