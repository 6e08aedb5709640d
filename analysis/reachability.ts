/**
 * Which service can reach which port, from the platform spec alone. Pure.
 *
 * How it counts: Swarm overlay networks do not filter ports, so a container reaches
 * every port every other task on a network it shares listens on (ServiceSpec.listens;
 * a service that declares none is counted with the targets of its published ports).
 * Applications are the stacks that join the attachable platform network: they appear
 * as the pseudo-service APPLICATION on it. What a port then asks for (a password, a
 * key, an ACL user) is not the matrix's business: it shows the doors, not the locks.
 */
import type { ListenSpec, PlatformSpec, ServiceSpec } from "../core/model";
import { NET } from "../core/networks";

/** The pseudo-service that stands for any application container on the platform network. */
export const APPLICATION = "application";

export interface ReachedPort {
  readonly service: string;
  readonly port: number;
  readonly what: string;
}

export interface ReachabilityRow {
  /** The service whose containers can connect (or APPLICATION). */
  readonly service: string;
  /** The network key the connection goes over. */
  readonly network: string;
  /** Every other service's listening port on that network, by service then port. */
  readonly reaches: readonly ReachedPort[];
}

/** What a service listens on: its declared ports, or its published ports' targets. */
export function listeningPorts(s: Pick<ServiceSpec, "listens" | "ports">): readonly ListenSpec[] {
  if (s.listens && s.listens.length > 0) return s.listens;
  return [...new Set(s.ports.map((p) => p.target))].map((port) => ({ port, what: "published" }));
}

/** The reachability matrix: one row per service and network it joins, plus the applications' row. */
export function reachability(spec: Pick<PlatformSpec, "networks" | "services">): ReachabilityRow[] {
  const members = new Map<string, ServiceSpec[]>(spec.networks.map((n) => [n.key, []]));
  for (const s of spec.services) {
    for (const n of s.networks) {
      const list = members.get(n.key);
      if (!list) throw new Error(`service ${s.name} joins network ${n.key}, which the platform does not declare`);
      list.push(s);
    }
  }
  const reachedOn = (network: string, self: string): ReachedPort[] =>
    (members.get(network) ?? [])
      .filter((t) => t.name !== self)
      .flatMap((t) => listeningPorts(t).map((l) => ({ service: t.name, port: l.port, what: l.what })))
      .sort((a, b) => a.service.localeCompare(b.service) || a.port - b.port);
  const rows: ReachabilityRow[] = spec.services.flatMap((s) => s.networks.map((n) => ({ service: s.name, network: n.key, reaches: reachedOn(n.key, s.name) })));
  if (members.has(NET.platform)) rows.push({ service: APPLICATION, network: NET.platform, reaches: reachedOn(NET.platform, APPLICATION) });
  return rows;
}

/** Every port a service reaches over all its networks, as "service:port", sorted and unique. */
export function reachableFrom(rows: readonly ReachabilityRow[], service: string): string[] {
  return [...new Set(rows.filter((r) => r.service === service).flatMap((r) => r.reaches.map((p) => `${p.service}:${p.port}`)))].sort();
}

/** Who reaches a service at all, over any network, sorted. */
export function reachersOf(rows: readonly ReachabilityRow[], target: string): string[] {
  return [...new Set(rows.filter((r) => r.reaches.some((p) => p.service === target)).map((r) => r.service))].sort();
}

/** The matrix as a plain-text table: one line per service and network. */
export function reachabilityTable(rows: readonly ReachabilityRow[]): string {
  const lines = rows.map((r) => {
    const byService = new Map<string, string[]>();
    for (const p of r.reaches) byService.set(p.service, [...(byService.get(p.service) ?? []), `${p.port} ${p.what}`]);
    const reached = [...byService].map(([svc, ports]) => `${svc} (${ports.join(", ")})`).join("; ");
    return `${r.service.padEnd(20)} ${r.network.padEnd(11)} ${reached || "-"}`;
  });
  return [`${"service".padEnd(20)} ${"network".padEnd(11)} reaches`, ...lines].join("\n");
}
