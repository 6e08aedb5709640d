/**
 * Failure analysis: for each node and each location, what the platform loses if
 * that domain goes down. Pure: the config, the topology and the platform in, data out.
 *
 * How it counts:
 * - Stateful members are one service per member, pinned to a node
 *   (`node.hostname == <node>` or ServiceSpec.node). A member whose node is in the
 *   domain is lost. A member that is not pinned could be anywhere, so it is counted
 *   as lost in every domain that holds a node it may run on (worst case).
 * - Stateful services of one `component` form a family. A family of two or more
 *   voting members keeps quorum while a majority (floor(n/2)+1) survives; the Swarm
 *   managers' Raft is the family "swarm-managers" (of any size). Components whose
 *   part declares them non-voting (quorum: { voting: false }) replicate data but do
 *   not vote (Redis data nodes: Sentinel decides the failover), so they need one survivor. A stateful singleton has no
 *   quorum: losing it is reported as lost, not as quorum lost.
 * - Stateless replicas are not pinned, so where they run is not known before they
 *   do. The count assumes what Swarm's scheduler does: tasks of a service spread
 *   evenly over the eligible nodes (active nodes that satisfy the constraints),
 *   at most max_replicas_per_node on a node, and evenly over the values of a
 *   spread preference label first (node.labels.location) when the service has one.
 *   The domain is charged the largest share that spread allows (ceil), so
 *   `remaining` is a lower bound. `afterReschedule` is what Swarm can restore on the
 *   surviving eligible nodes once it reschedules (capped by max_replicas_per_node).
 * - The floating IP sits on the first edge candidate after deploy. Losing it with other candidates
 *   alive moves the address to a surviving one (keepalived, core/edge-failover.ts) within the
 *   expected failover time; losing every candidate loses it.
 */
import type { CoreConfig } from "../stacks/config";
import type { NodeSpec, Topology } from "../core/topology";
import type { PlatformSpec, ServiceSpec } from "../core/model";
import { majority } from "../core/placement";
import { expectedFailoverSeconds } from "../core/edge-failover";
import type { FamilyPart } from "../families/kit/family";

/** The Swarm managers' Raft, analysed like a stateful family. */
export const SWARM_MANAGERS = "swarm-managers";

/** What the analysis reads of a platform: its Swarm objects, and the failure semantics its parts declare. */
export interface AnalysedPlatform {
  readonly spec: PlatformSpec;
  readonly parts: readonly (Pick<FamilyPart, "quorum"> & Partial<Pick<FamilyPart, "backup">>)[];
}

/** Components a backup source holds the data of, with the setting that turns an opt-in source on. */
function backedUpComponents(parts: AnalysedPlatform["parts"]): ReadonlyMap<string, string | undefined> {
  return new Map(parts.flatMap((p) => p.backup ?? []).map((c) => [c.component, c.optIn]));
}

/** Stateful components whose members hold data but do not vote (as the parts declare): one survivor keeps them serving. */
export function nonVotingComponents(parts: AnalysedPlatform["parts"]): ReadonlySet<string> {
  return new Set(parts.flatMap((p) => Object.entries(p.quorum ?? {}).filter(([, q]) => !q.voting).map(([component]) => component)));
}

export type DomainKind = "node" | "location";

export interface FamilyImpact {
  readonly family: string;
  readonly members: number;
  readonly lost: number;
  readonly remaining: number;
  /** Members that must survive: a majority, or 1 for non-voting families. */
  readonly needed: number;
  readonly keepsQuorum: boolean;
}

export interface ReplicaImpact {
  readonly service: string;
  readonly mode: "replicated" | "global";
  /** Tasks running before the failure (replicas, capped by what placement allows). */
  readonly running: number;
  /** At most this many tasks were on the failed nodes. */
  readonly lost: number;
  /** At least this many keep running through the failure. */
  readonly remaining: number;
  /** Tasks Swarm can run on the surviving nodes once it reschedules. */
  readonly afterReschedule: number;
}

export interface DomainImpact {
  /** `node:<name>` or `location:<location>`. */
  readonly domain: string;
  readonly kind: DomainKind;
  readonly name: string;
  /** Nodes that go down with the domain. */
  readonly nodes: readonly string[];
  /** Everything the domain takes down, one line each. */
  readonly lost: readonly string[];
  /** Families left without the members they need (sorted). */
  readonly quorumLost: readonly string[];
  /** Stateful singletons that are down until their node returns. */
  readonly unavailable: readonly string[];
  /** Every stateful family, the Swarm managers first. */
  readonly stateful: readonly FamilyImpact[];
  /** Every stateless service: how many tasks it loses and keeps. */
  readonly stateless: readonly ReplicaImpact[];
  /** "none" when the stack has no floating IP. */
  readonly floatingIp: "kept" | "lost" | "none";
  /** The candidates the floating IP moves to when the domain takes its holder and leaves another (first one listed gets it). */
  readonly floatingIpMovesTo?: readonly string[];
  /** Stateful families that lose every member: what is lost if those nodes never return. */
  readonly dataAtRisk: readonly string[];
}

const CONSTRAINT = /^\s*([A-Za-z][\w.-]*)\s*(==|!=)\s*(\S(?:.*\S)?)\s*$/;

/**
 * Whether a node satisfies one Swarm placement constraint. Attributes the
 * topology does not know (node.id, node.platform.*, engine.labels.*) are assumed
 * satisfied; an expression that is not a constraint is an error.
 */
export function satisfies(node: Pick<NodeSpec, "name" | "role" | "labels">, constraint: string): boolean {
  const m = CONSTRAINT.exec(constraint);
  if (!m) throw new Error(`not a Swarm placement constraint: ${JSON.stringify(constraint)}`);
  const [, attr, op, expected] = m;
  let actual: string | undefined;
  if (attr === "node.hostname") actual = node.name;
  else if (attr === "node.role") actual = node.role;
  else if (attr.startsWith("node.labels.")) actual = node.labels[attr.slice("node.labels.".length)];
  else return true;
  // A missing label never equals a value, and always differs from one.
  const equal = actual !== undefined && actual === expected;
  return op === "==" ? equal : !equal;
}

/** Active nodes a service may run on. */
export function eligibleNodes(topology: Topology, service: Pick<ServiceSpec, "placement">): NodeSpec[] {
  return topology.workloadNodes.filter((n) => service.placement.constraints.every((c) => satisfies(n, c)));
}

/** The node a stateful member is pinned to, if it is pinned to exactly one. */
export function pinnedNode(topology: Topology, service: Pick<ServiceSpec, "node" | "placement">): string | undefined {
  if (service.node) return service.node;
  const pins = service.placement.constraints
    .map((c) => /^\s*node\.hostname\s*==\s*(\S+)\s*$/.exec(c)?.[1])
    .filter((n): n is string => n !== undefined);
  const distinct = [...new Set(pins)];
  return distinct.length === 1 && topology.nodes.some((n) => n.name === distinct[0]) ? distinct[0] : undefined;
}

interface Member {
  readonly name: string;
  /** Nodes the member may be on: one when pinned. Empty when it can run nowhere. */
  readonly nodes: readonly string[];
}

function familyImpact(family: string, members: readonly Member[], down: ReadonlySet<string>, needed: number): FamilyImpact {
  const lost = members.filter((m) => m.nodes.length === 0 || m.nodes.some((n) => down.has(n))).length;
  const remaining = members.length - lost;
  return { family, members: members.length, lost, remaining, needed, keepsQuorum: remaining >= needed };
}

function replicaImpact(topology: Topology, service: ServiceSpec, down: ReadonlySet<string>): ReplicaImpact {
  const eligible = eligibleNodes(topology, service);
  const survivors = eligible.filter((n) => !down.has(n.name));
  const lostNodes = eligible.filter((n) => down.has(n.name));
  if ("global" in service.mode) {
    return {
      service: service.name,
      mode: "global",
      running: eligible.length,
      lost: lostNodes.length,
      remaining: survivors.length,
      afterReschedule: survivors.length,
    };
  }
  const cap = service.placement.maxReplicasPerNode ?? Number.POSITIVE_INFINITY;
  const replicas = service.mode.replicas;
  // 0 nodes hold 0 tasks, even without a cap (0 * Infinity is NaN).
  const room = (nodes: number): number => (nodes === 0 ? 0 : nodes * cap);
  const running = Math.min(replicas, room(eligible.length));
  let lost = 0;
  if (running > 0 && lostNodes.length > 0) {
    const spreadLabel = service.placement.spread
      .map((s) => /^node\.labels\.(.+)$/.exec(s)?.[1])
      .find((l): l is string => l !== undefined);
    if (spreadLabel) {
      const groups = new Map<string, NodeSpec[]>();
      for (const n of eligible) {
        const key = n.labels[spreadLabel] ?? "";
        groups.set(key, [...(groups.get(key) ?? []), n]);
      }
      const perGroup = Math.ceil(running / groups.size);
      for (const members of groups.values()) {
        const inGroup = Math.min(perGroup, room(members.length));
        const perNode = Math.min(cap, Math.ceil(inGroup / members.length));
        const downHere = members.filter((n) => down.has(n.name)).length;
        lost += Math.min(inGroup, downHere * perNode);
      }
    } else {
      const perNode = Math.min(cap, Math.ceil(running / eligible.length));
      lost = lostNodes.length * perNode;
    }
    lost = Math.min(lost, running);
  }
  return {
    service: service.name,
    mode: "replicated",
    running,
    lost,
    remaining: running - lost,
    afterReschedule: Math.min(replicas, room(survivors.length)),
  };
}

function describeFamily(f: FamilyImpact): string {
  return `${f.remaining} of ${f.members} remain, ${f.needed} needed${f.keepsQuorum ? "" : ": QUORUM LOST"}`;
}

function analyseDomain(
  config: Pick<CoreConfig, "floatingIp">,
  topology: Topology,
  platform: PlatformSpec,
  nonVoting: ReadonlySet<string>,
  backedUp: ReadonlyMap<string, string | undefined>,
  kind: DomainKind,
  name: string,
  nodes: readonly NodeSpec[],
): DomainImpact {
  const down = new Set(nodes.map((n) => n.name));
  const lost: string[] = [];
  const quorumLost: string[] = [];
  const unavailable: string[] = [];
  const stateful: FamilyImpact[] = [];
  const dataAtRisk: string[] = [];

  const managers = familyImpact(
    SWARM_MANAGERS,
    topology.managers.map((m) => ({ name: m.name, nodes: [m.name] })),
    down,
    majority(topology.managers.length),
  );
  stateful.push(managers);
  if (managers.lost > 0) {
    const gone = topology.managers.filter((m) => down.has(m.name)).map((m) => m.name);
    lost.push(`swarm manager${gone.length > 1 ? "s" : ""} ${gone.join(", ")} (${describeFamily(managers)})`);
  }
  if (!managers.keepsQuorum) quorumLost.push(SWARM_MANAGERS);

  const families = new Map<string, ServiceSpec[]>();
  for (const s of platform.services.filter((x) => x.stateful)) {
    families.set(s.component, [...(families.get(s.component) ?? []), s]);
  }
  for (const [family, services] of [...families].sort(([a], [b]) => a.localeCompare(b))) {
    const active = new Set(topology.workloadNodes.map((n) => n.name));
    const members: Member[] = services.map((s) => {
      const pin = pinnedNode(topology, s);
      const where = pin !== undefined ? [pin] : eligibleNodes(topology, s).map((n) => n.name);
      return { name: s.name, nodes: where.filter((n) => active.has(n)) };
    });
    const needed = nonVoting.has(family) ? 1 : majority(members.length);
    const impact = familyImpact(family, members, down, needed);
    stateful.push(impact);
    if (impact.remaining === 0 && impact.members > 0) {
      const optIn = backedUp.get(family);
      dataAtRisk.push(!backedUp.has(family)
        ? `${family}: every member is down; if the nodes do not return, its data is lost (no backup source)`
        : `${family}: every member is down; if the nodes do not return, what was written since its last backup${optIn ? ` (backed up only with ${optIn})` : ""} is lost (stack output backup, backupRestoreCommands)`);
    }
    if (impact.lost === 0) continue;
    const gone = members.filter((m) => m.nodes.length === 0 || m.nodes.some((n) => down.has(n)));
    const where = (m: Member): string => (m.nodes.length === 1 ? `on ${m.nodes[0]}` : m.nodes.length === 0 ? "placeable nowhere" : "not pinned, may be here");
    if (members.length === 1) {
      unavailable.push(family);
      lost.push(`${gone[0].name} (${family}, single member ${where(gone[0])}: down until it returns)`);
      continue;
    }
    lost.push(`${family} member${gone.length > 1 ? "s" : ""} ${gone.map((m) => `${m.name} ${where(m)}`).join(", ")} (${describeFamily(impact)})`);
    if (!impact.keepsQuorum) quorumLost.push(family);
  }

  const stateless: ReplicaImpact[] = [];
  for (const s of platform.services.filter((x) => !x.stateful)) {
    const impact = replicaImpact(topology, s, down);
    stateless.push(impact);
    if (impact.lost === 0) continue;
    lost.push(
      `${s.name}: ${impact.lost} of ${impact.running} ${impact.mode === "global" ? "global tasks" : "replicas"} ` +
        `(${impact.remaining} remain, ${impact.afterReschedule} after rescheduling)`,
    );
  }

  let floatingIp: DomainImpact["floatingIp"] = "none";
  let floatingIpMovesTo: string[] | undefined;
  if (config.floatingIp) {
    const survivors = topology.edgeCandidates.filter((n) => !down.has(n.name)).map((n) => n.name);
    if (!down.has(topology.edge.name)) {
      floatingIp = "kept";
    } else if (survivors.length > 0) {
      floatingIp = "kept";
      floatingIpMovesTo = survivors;
      const t = expectedFailoverSeconds();
      lost.push(`floating IP moves to ${survivors.join(" or ")} (ingress on 80/443 pauses about ${t.min}-${t.max} s while keepalived assigns it)`);
    } else {
      floatingIp = "lost";
      const all = topology.edgeCandidates.map((n) => n.name).join(", ");
      lost.push(`floating IP (every edge candidate is down: ${all}; ingress on 80/443 stops until one returns)`);
    }
  }

  return {
    domain: `${kind}:${name}`,
    kind,
    name,
    nodes: nodes.map((n) => n.name),
    lost,
    quorumLost: quorumLost.sort(),
    unavailable: unavailable.sort(),
    stateful,
    stateless,
    floatingIp,
    ...(floatingIpMovesTo ? { floatingIpMovesTo } : {}),
    dataAtRisk,
  };
}

/** Every node, then every location (in first-seen order), and what its failure takes down. */
export function analyseFailures(config: Pick<CoreConfig, "floatingIp">, topology: Topology, platform: AnalysedPlatform): DomainImpact[] {
  const nonVoting = nonVotingComponents(platform.parts);
  const backedUp = backedUpComponents(platform.parts);
  const out = topology.nodes.map((n) => analyseDomain(config, topology, platform.spec, nonVoting, backedUp, "node", n.name, [n]));
  const locations = [...new Set(topology.nodes.map((n) => n.location))];
  for (const loc of locations) {
    out.push(analyseDomain(config, topology, platform.spec, nonVoting, backedUp, "location", loc, topology.nodes.filter((n) => n.location === loc)));
  }
  return out;
}

/** What the plan warns about: in prod, a single node whose failure costs a quorum. */
export function failureWarnings(profile: string, report: readonly DomainImpact[]): string[] {
  if (profile !== "prod") return [];
  return report
    .filter((d) => d.kind === "node" && d.quorumLost.length > 0)
    .map((d) => `failure of ${d.name} alone loses the quorum of ${d.quorumLost.join(", ")}: a prod stack must survive any single node`);
}
