import type { ConfigProblem } from "./errors";
import type { CoreConfig } from "./config";
import { HETZNER_LOCATIONS, nodeName } from "./pools";
import { CATALOGUE_AS_OF, findServerType, orderability, sameSizeCurrentTypes, SERVER_TYPES, type Orderability } from "./hetzner-catalogue";
import { cidrContains, cidrsOverlap, cidrSize, mustParseCidr, ANYWHERE_CIDRS } from "../lib/net";

/** Ports the Swarm uses between nodes; nothing else may take them. */
export const SWARM_PORTS = [2377, 7946, 4789] as const;
/** Ports the edge publishes. */
export const EDGE_PORTS = [80, 443] as const;
/** Hetzner server names are host names: at most 63 characters. */
const MAX_NODE_NAME = 63;

/** Rules that span settings. Each problem names the key to change. */
export function validateCore(cfg: CoreConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (key: string, expected: string, given: unknown): void => {
    problems.push({ key, expected, given });
  };

  // Pools and managers.
  const poolNames = cfg.nodePools.map((p) => p.name);
  const dup = poolNames.find((n, i) => poolNames.indexOf(n) !== i);
  if (dup) add("nodePools", "pool names that are unique (node names derive from them)", `two pools named ${dup}`);
  const managers = cfg.nodePools.filter((p) => p.role === "manager").reduce((s, p) => s + p.count, 0);
  if (managers === 0) add("nodePools", "at least one pool with role=manager", `no manager among ${cfg.nodePools.length} pool(s)`);
  else if (managers % 2 === 0) add("nodePools", "an odd number of managers (1, 3, 5 or 7) so Raft keeps a majority", `${managers} managers`);
  else if (managers > 7) add("nodePools", "at most 7 managers (more slows Raft without adding safety)", `${managers} managers`);
  if (!cfg.managersRunWorkloads && !cfg.nodePools.some((p) => p.role === "worker")) {
    add("managersRunWorkloads", "true when there is no worker pool (otherwise no node takes service tasks)", false);
  }
  for (const [i, p] of cfg.nodePools.entries()) {
    const longest = nodeName(cfg.namePrefix, p, p.count);
    if (longest.length > MAX_NODE_NAME) add(`nodePools[${i}]`, `node names of at most ${MAX_NODE_NAME} characters`, longest);
    for (const loc of p.locations) {
      if (HETZNER_LOCATIONS[loc] !== cfg.network.zone) {
        add(`nodePools[${i}].locations`, `locations in network zone ${cfg.network.zone} (networkZone)`, `${loc} (zone ${HETZNER_LOCATIONS[loc]})`);
      }
    }
  }

  // Network ranges.
  const network = mustParseCidr(cfg.network.cidr);
  const subnet = mustParseCidr(cfg.network.subnetCidr);
  if (!cidrContains(network, subnet)) {
    add("subnetCidr", `a range inside networkCidr ${cfg.network.cidr}`, cfg.network.subnetCidr);
  }
  const hosts = Number(cidrSize(subnet));
  const ranges = cfg.nodePools.map((p) => ({ pool: p.name, first: p.ipOffset, last: p.ipOffset + p.count - 1 }));
  for (const [i, r] of ranges.entries()) {
    if (r.last > hosts - 2) {
      add(`nodePools[${i}]`, `node addresses inside subnetCidr ${cfg.network.subnetCidr} (host numbers 2-${hosts - 2})`, `pool ${r.pool} needs host numbers ${r.first}-${r.last}`);
    }
    for (const other of ranges.slice(i + 1)) {
      if (r.first <= other.last && other.first <= r.last) {
        add(`nodePools[${i}].ipOffset`, `address ranges that do not overlap between pools (set ipOffset)`, `pool ${r.pool} ${r.first}-${r.last} overlaps pool ${other.pool} ${other.first}-${other.last}`);
      }
    }
  }
  const pool = mustParseCidr(cfg.docker.swarmAddrPool);
  if (pool.prefix < 8 || pool.prefix > 20) add("swarmAddrPool", "an IPv4 CIDR of /8 to /20", cfg.docker.swarmAddrPool);
  if (cidrsOverlap(pool, network)) {
    add("swarmAddrPool", `a range that does not overlap networkCidr ${cfg.network.cidr}`, cfg.docker.swarmAddrPool);
  }
  if (cidrsOverlap(pool, mustParseCidr("172.17.0.0/16"))) {
    add("swarmAddrPool", "a range that does not overlap Docker's default bridge 172.17.0.0/16", cfg.docker.swarmAddrPool);
  }
  if (cfg.docker.overlayEncrypted && cfg.docker.overlayMtu > 1350) {
    add("overlayMtu", "1350 or less while overlayEncrypted is true (IPsec adds up to 50 bytes)", cfg.docker.overlayMtu);
  }

  // Access.
  if (cfg.profile === "prod") {
    const open = cfg.ssh.allowedCidrs.filter((c) => ANYWHERE_CIDRS.includes(c));
    if (open.length > 0) add("sshAllowedCidrs", "admin ranges only in prod (no 0.0.0.0/0 or ::/0)", cfg.ssh.allowedCidrs);
  }
  const reserved: number[] = [...SWARM_PORTS, ...EDGE_PORTS];
  if (reserved.includes(cfg.ssh.port)) add("sshPort", `a port other than ${reserved.join(", ")}`, cfg.ssh.port);

  // Edge.
  const allowedPool = cfg.nodePools.find((p) => p.role === "worker") ?? (cfg.managersRunWorkloads ? cfg.nodePools[0] : undefined);
  const example = allowedPool ? `, e.g. ${nodeName(cfg.namePrefix, allowedPool, 1)}` : "";
  const nodePool = new Map(cfg.nodePools.flatMap((p) => Array.from({ length: p.count }, (_, i) => [nodeName(cfg.namePrefix, p, i + 1), p] as const)));
  for (const [i, candidate] of cfg.edgeCandidates.entries()) {
    const pool = nodePool.get(candidate);
    const key = `edgeCandidates[${i}]`;
    if (!pool) add(key, `the name of a node of this stack that takes workloads${example}`, candidate);
    else if (pool.role === "manager" && !cfg.managersRunWorkloads) add(key, `a node that takes workloads (managers are drained: managersRunWorkloads is false)${example}`, candidate);
    if (cfg.edgeCandidates.indexOf(candidate) !== i) add(key, "each node listed once", candidate);
  }
  if (cfg.storageBox && cfg.storageBox.user === "") add("storageBoxUser", "the Storage Box account name (required with storageBoxShare)", "");
  if (cfg.storageBox && cfg.storageBox.password === "") {
    add("storageBoxPassword", "the Storage Box account's password (required with storageBoxShare; set it with: pulumi config set --secret storageBoxPassword)", undefined);
  }
  return problems;
}

/** Address ranges reserved for documentation (RFC 5737, RFC 3849): no admin can come from them. */
const DOCUMENTATION_RANGES = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"].map(mustParseCidr);

/** Settings that work but will not do what is meant. */
export function coreWarnings(cfg: CoreConfig): string[] {
  const placeholders = cfg.ssh.allowedCidrs.filter((c) => DOCUMENTATION_RANGES.some((d) => cidrContains(d, mustParseCidr(c))));
  return placeholders.length === 0 ? [] : [
    `sshAllowedCidrs holds ${placeholders.join(", ")}, a documentation range (placeholder): the deploy and the bootstrap will not reach the nodes over SSH. Set your admin ranges: pulumi config set --path 'sshAllowedCidrs[0]' <your range>`,
  ];
}

export interface CatalogueCheck {
  readonly problems: ConfigProblem[];
  readonly warnings: string[];
}

/**
 * Each pool's server type against the dated Hetzner catalogue, for the day planned for: a type
 * Hetzner does not know, no longer sells, or does not sell in a pool's location is an error
 * naming `nodePools[i].type` with the current types of the same size; a type announced for
 * retirement (or one whose offer the sources leave open) is a warning.
 */
export function validatePoolCatalogue(cfg: Pick<CoreConfig, "nodePools">, date: string): CatalogueCheck {
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  for (const [i, pool] of cfg.nodePools.entries()) {
    const key = `nodePools[${i}].type`;
    const type = findServerType(pool.serverType);
    const asOf = `Hetzner catalogue as of ${CATALOGUE_AS_OF}, stacks/hetzner-catalogue.ts`;
    if (!type) {
      const current = SERVER_TYPES.filter((t) => pool.locations.every((l) => orderability(t.name, l, date).status === "orderable")).map((t) => t.name);
      problems.push({ key, expected: `a server type Hetzner sells (${asOf}); current types in ${pool.locations.join(", ")}: ${current.join(", ")}`, given: pool.serverType });
      continue;
    }
    const size = `${type.vcpus} vCPU, ${type.memoryGb} GB`;
    const instead = (): string => {
      const names = pool.locations
        .map((l) => new Set(sameSizeCurrentTypes(type, l, date).map((t) => t.name)))
        .reduce((a, b) => new Set([...a].filter((n) => b.has(n))));
      return names.size > 0
        ? `current types of the same size (${size}) in ${pool.locations.join(", ")}: ${[...names].sort().join(", ")}`
        : `no current type of the same size (${size}) is sold in every one of ${pool.locations.join(", ")}; see stacks/hetzner-catalogue.ts`;
    };
    const by = new Map<string, string[]>();
    const seen = new Map<string, Orderability>();
    for (const location of pool.locations) {
      const o = orderability(type.name, location, date);
      by.set(o.status, [...(by.get(o.status) ?? []), location]);
      seen.set(o.status, o);
    }
    const where = (status: string): string => (by.get(status) ?? []).join(", ");
    const unavailable = seen.get("unavailable");
    if (unavailable?.status === "unavailable") {
      problems.push({
        key,
        expected: `a server type Hetzner still sells: ${type.name} can no longer be ordered in ${where("unavailable")} (since ${unavailable.unavailableAfter.slice(0, 10)}, ${unavailable.source.url}); ${instead()}`,
        given: pool.serverType,
      });
    } else if (by.has("not-offered")) {
      problems.push({ key, expected: `a server type sold in ${where("not-offered")} (${type.name} is not, ${asOf}); ${instead()}`, given: pool.serverType });
    }
    const deprecated = seen.get("deprecated");
    if (deprecated?.status === "deprecated" && !unavailable) {
      warnings.push(`${key} (pool ${pool.name}): Hetzner deprecated ${type.name} in ${where("deprecated")}; it cannot be ordered after ${deprecated.unavailableAfter.slice(0, 10)} (${deprecated.source.url}): move to one of the ${instead()}`);
    }
    const unknown = seen.get("unknown");
    if (unknown?.status === "unknown") {
      warnings.push(`${key} (pool ${pool.name}): whether ${type.name} can be ordered in ${where("unknown")} is not known offline (${unknown.reason}); pulumi preview checks it against the live API`);
    }
  }
  return { problems, warnings };
}
