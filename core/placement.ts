/**
 * The one placement vocabulary every family speaks: which nodes carry platform
 * services, how many one-per-node members a stack can hold, what a majority is,
 * and the constraint strings that say so to Swarm.
 */
import type { NodeSpec, Topology } from "./topology";

/** Swarm constraint of every service that runs on the platform's service nodes. */
export const SERVICE_NODE_CONSTRAINT = "node.labels.type == service";

/**
 * Active nodes labelled type=service, workers first: where platform services and
 * stateful members run (member i on the i-th). A manager that takes workloads in a
 * small stack should carry the lighter share.
 */
export function serviceNodes(topology: Pick<Topology, "workloadNodes">): NodeSpec[] {
  const eligible = topology.workloadNodes.filter((n) => n.labels.type === "service");
  return [...eligible.filter((n) => n.role === "worker"), ...eligible.filter((n) => n.role !== "worker")];
}

/** How many one-per-node members the stack can hold. */
export function memberCapacity(topology: Pick<Topology, "workloadNodes">): number {
  return serviceNodes(topology).length;
}

/** Majority of n voters. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** Swarm placement constraint that pins a task to one node. */
export function pinTo(node: Pick<NodeSpec, "name">): string {
  return `node.hostname == ${node.name}`;
}
