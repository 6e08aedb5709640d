import type { ConfigProblem } from "../../stacks/errors";

/** A one-member-per-node count that the stack's service nodes cannot hold. */
export function perNodeProblem(key: string, count: number, capacity: number): ConfigProblem[] {
  return count > capacity
    ? [{ key, expected: `at most ${capacity} (one member per workload node labelled type=service; see nodePools)`, given: count }]
    : [];
}
