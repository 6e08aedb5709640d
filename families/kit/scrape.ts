/** Building blocks of the scrape jobs families contribute to Prometheus. */
import type { Member } from "./member";

export const hostPort = (host: string, port: number): string => `${host}:${port}`;

/** Stateful members by their stable names: a dead member stays a target and shows `up == 0`. */
export function memberTargets(list: readonly Member[], port: number): { targets: string[]; labels: Record<string, string> }[] {
  return list.map((m) => ({ targets: [hostPort(m.name, port)], labels: { member: m.name, node: m.node.name } }));
}

/** Swarm's own service discovery: `tasks.<service>` lists the tasks of replicated and global services. */
export function dnsTargets(service: string, port: number): Record<string, unknown>[] {
  return [{ names: [`tasks.${service}`], type: "A", port, refresh_interval: "30s" }];
}
