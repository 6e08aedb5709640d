/**
 * Stateful members (Redis, Sentinel, RabbitMQ, etcd): one Swarm service per
 * member, pinned to its own node, with a stable hostname, `dnsrr` (a VIP could
 * point at the wrong member) and its own volume. Members live on the workload
 * nodes labelled type=service, workers before managers (a manager that takes
 * workloads in a small stack should carry the lighter share).
 */
import type { NodeSpec, Topology } from "../../core/topology";
import { pinTo, serviceNodes } from "../../core/placement";
import { swarmObjectName } from "../../core/naming";
import { RESTART_ANY, rollbackOf, STATEFUL_UPDATE, type ServiceSpec, type VolumeSpec } from "../../core/model";
import { platformLabels, type LabelContext } from "./front";

export interface Member {
  /** Service name and stable hostname, e.g. redis-2. */
  readonly name: string;
  /** 1-based. */
  readonly index: number;
  readonly node: NodeSpec;
}

/** Members of a family: names `<family>-1..n`, member i on the i-th member node. */
export function members(topology: Topology, family: string, count: number): Member[] {
  const nodes = serviceNodes(topology);
  if (count > nodes.length) {
    throw new Error(`${count} ${family} members need ${count} workload nodes labelled type=service, the topology has ${nodes.length} (the config validation should have caught this)`);
  }
  return Array.from({ length: count }, (_, i) => ({ name: `${family}-${i + 1}`, index: i + 1, node: nodes[i] }));
}

/**
 * The parts every pinned member service shares. Members roll one after another
 * (member N waits for member N-1 to converge) unless the family cannot bring up
 * a lone first member: etcd's first member is unhealthy until it has quorum, so
 * etcd passes `together` and its members start at once.
 */
export function pinnedMember(ctx: LabelContext, member: Member, component: string, opts: { together?: boolean } = {}): Pick<
  ServiceSpec,
  "name" | "component" | "hostname" | "mode" | "endpointMode" | "placement" | "node" | "restartPolicy" | "update" | "rollback" | "labels" | "stateful" | "after"
> {
  return {
    ...(member.index > 1 && !opts.together ? { after: member.name.replace(/-\d+$/, `-${member.index - 1}`) } : {}),
    name: member.name,
    component,
    hostname: member.name,
    mode: { replicas: 1 },
    endpointMode: "dnsrr",
    placement: { constraints: [pinTo(member.node)], spread: [] },
    node: member.node.name,
    restartPolicy: RESTART_ANY,
    update: STATEFUL_UPDATE,
    rollback: rollbackOf(STATEFUL_UPDATE),
    labels: { ...platformLabels(ctx, component), "swarm-platform.member": member.name },
    stateful: true,
  };
}

/** The member's own local volume, on the node it is pinned to. */
export function memberVolume(ctx: LabelContext, member: Member, component: string): VolumeSpec {
  return nodeVolume(ctx, `${member.name}-data`, component, member.node);
}

/** A local volume on one node, for a service pinned there. */
export function nodeVolume(ctx: LabelContext, key: string, component: string, node: Pick<NodeSpec, "name">): VolumeSpec {
  return { key, name: swarmObjectName(ctx.prefix, key), driver: "local", labels: platformLabels(ctx, component), node: node.name };
}
