import type { ConfigProblem } from "./errors";
import type { CoreConfig } from "./config";
import { HETZNER_LOCATIONS, nodeName } from "./pools";
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
  const nodePool = new Map(cfg.nodePools.flatMap((p) => Array.from({ length: p.count }, (_, i) => [nodeName(cfg.namePrefix, p, i + 1), p] as const)));
  for (const [i, candidate] of cfg.edgeCandidates.entries()) {
    const pool = nodePool.get(candidate);
    const key = `edgeCandidates[${i}]`;
    if (!pool) add(key, `the name of a node of this stack, e.g. ${nodeName(cfg.namePrefix, cfg.nodePools[0], 1)}`, candidate);
    else if (pool.role === "manager" && !cfg.managersRunWorkloads) add(key, "a node that takes workloads (managers are drained: managersRunWorkloads is false)", candidate);
    if (cfg.edgeCandidates.indexOf(candidate) !== i) add(key, "each node listed once", candidate);
  }
  if (cfg.storageBox && cfg.storageBox.user === "") add("storageBoxUser", "the Storage Box account name (required with storageBoxShare)", "");
  if (cfg.storageBox && cfg.storageBox.password === "") {
    add("storageBoxPassword", "the Storage Box account's password (required with storageBoxShare; set it with: pulumi config set --secret storageBoxPassword)", undefined);
  }
  return problems;
}
