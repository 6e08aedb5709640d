import type { CoreConfig } from "../stacks/config";
import { nodeName, type NodePool, type SwarmRole } from "../stacks/pools";

export { nodeName };
import { ipv4At, mustParseCidr } from "../lib/net";

/** Hetzner allows at most 10 servers in one spread placement group. */
export const PLACEMENT_GROUP_LIMIT = 10;

export interface NodeSpec {
  readonly name: string;
  readonly pool: string;
  /** 1-based number within the pool. */
  readonly number: number;
  readonly role: SwarmRole;
  readonly serverType: string;
  readonly location: string;
  readonly privateIp: string;
  /** Swarm node labels, exactly (the bootstrap replaces the node's labels with these). */
  readonly labels: Readonly<Record<string, string>>;
  readonly availability: "active" | "drain";
  readonly placementGroup: string;
  /** An edge candidate: runs the edge, has the floating IP configured, takes part in the failover. */
  readonly isEdge: boolean;
}

/** Node label that marks the edge candidates; the edge service is constrained to it. */
export const EDGE_LABEL = { key: "edge", value: "true" } as const;

export interface PlacementGroupSpec {
  readonly name: string;
  readonly pool: string;
  readonly nodes: readonly string[];
}

export interface Topology {
  readonly nodes: readonly NodeSpec[];
  readonly managers: readonly NodeSpec[];
  readonly workers: readonly NodeSpec[];
  /** The manager that runs `docker swarm init`. */
  readonly leader: NodeSpec;
  /** The candidate that holds the floating IP after deploy (the first of edgeCandidates). */
  readonly edge: NodeSpec;
  /** Every edge candidate, in the configured order. */
  readonly edgeCandidates: readonly NodeSpec[];
  readonly placementGroups: readonly PlacementGroupSpec[];
  /** Nodes that take service tasks (availability active). */
  readonly workloadNodes: readonly NodeSpec[];
}

/** Nodes of one pool, in number order. Pure function of the pool alone, so adding a pool or a node never renumbers another. */
export function poolNodes(cfg: Pick<CoreConfig, "namePrefix" | "network" | "managersRunWorkloads" | "edgeCandidates">, pool: NodePool): NodeSpec[] {
  const subnet = mustParseCidr(cfg.network.subnetCidr);
  return Array.from({ length: pool.count }, (_, i) => {
    const number = i + 1;
    const name = nodeName(cfg.namePrefix, pool, number);
    const location = pool.locations[i % pool.locations.length];
    const isEdge = cfg.edgeCandidates.includes(name);
    return Object.freeze({
      name,
      pool: pool.name,
      number,
      role: pool.role,
      serverType: pool.serverType,
      location,
      privateIp: ipv4At(subnet, pool.ipOffset + i),
      labels: Object.freeze({ ...pool.labels, location, pool: pool.name, ...(isEdge ? { [EDGE_LABEL.key]: EDGE_LABEL.value } : {}) }),
      availability: pool.role === "manager" && !cfg.managersRunWorkloads ? "drain" : "active",
      placementGroup: `${cfg.namePrefix}-${pool.name}-spread-${Math.floor(i / PLACEMENT_GROUP_LIMIT) + 1}`,
      isEdge,
    } as const);
  });
}

/** The whole node layout of a stack. Assumes a validated config (see stacks/validate.ts). */
export function buildTopology(cfg: CoreConfig): Topology {
  const nodes = cfg.nodePools.flatMap((p) => poolNodes(cfg, p));
  const managers = nodes.filter((n) => n.role === "manager");
  const groups = new Map<string, { pool: string; nodes: string[] }>();
  for (const n of nodes) {
    const g = groups.get(n.placementGroup) ?? { pool: n.pool, nodes: [] };
    g.nodes.push(n.name);
    groups.set(n.placementGroup, g);
  }
  const edgeCandidates = cfg.edgeCandidates.map((name) => nodes.find((n) => n.name === name));
  const missing = cfg.edgeCandidates.filter((_, i) => !edgeCandidates[i]);
  if (missing.length > 0 || edgeCandidates.length === 0) throw new Error(`edge candidates ${missing.join(", ") || "(none)"} are not in the topology (the config validation should have caught this)`);
  const candidates = edgeCandidates as NodeSpec[];
  return Object.freeze({
    nodes,
    managers,
    workers: nodes.filter((n) => n.role === "worker"),
    leader: managers[0],
    edge: candidates[0],
    edgeCandidates: Object.freeze(candidates),
    placementGroups: [...groups].map(([name, g]) => Object.freeze({ name, pool: g.pool, nodes: Object.freeze(g.nodes) })),
    workloadNodes: nodes.filter((n) => n.availability === "active"),
  });
}
