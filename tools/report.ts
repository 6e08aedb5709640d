import { buildTopology } from "../core/topology";
import { buildFirewalls } from "../core/firewall";
import type { PlatformSpec } from "../core/model";
import { partWarnings } from "../platform/outputs";
import { analyseFailures, failureWarnings, type DomainImpact } from "../analysis/failure";
import type { ProgramRun } from "./mock-runtime";

/** Version of the JSON plan layout; bumped when a field changes meaning or disappears. */
export const PLAN_SCHEMA_VERSION = 1;

export interface PlanNode {
  name: string;
  role: "manager" | "worker";
  pool: string;
  serverType: string;
  location: string;
  privateIp: string;
  labels: Record<string, string>;
  availability: "active" | "drain";
  placementGroup: string;
  edge: boolean;
}

export interface PlanFirewallRule {
  firewall: string;
  protocol: string;
  port: string | null;
  sources: string[];
  description: string;
}

/** One Swarm service of the platform, as the plan shows it. */
export interface PlanService {
  name: string;
  /** Family: redis, sentinel, redis-endpoint, rabbitmq, etcd, vault, apisix, ... */
  component: string;
  image: string;
  mode: "replicated" | "global";
  /** Replicated services only. */
  replicas?: number;
  constraints: string[];
  /** The node a stateful member is pinned to. */
  node?: string;
  endpointMode: "vip" | "dnsrr";
  stateful: boolean;
  networks: string[];
  secrets: string[];
  configs: string[];
  volumes: string[];
  memoryLimitBytes: number;
}

export interface PlanReport {
  schemaVersion: number;
  stack: string;
  profile: string;
  nodes: PlanNode[];
  firewall: { node: string; rules: PlanFirewallRule[] }[];
  placementGroups: { name: string; pool: string; nodes: string[] }[];
  /** Swarm services of the platform, in deploy-reading order. */
  services: PlanService[];
  networks: { key: string; name: string; attachable: boolean; internal: boolean; encrypted: boolean; mtu: number }[];
  /** Secret names carry a hash of the value, known after deploy. */
  secrets: { key: string; namePrefix: string; source: string }[];
  configs: { key: string; name: string; bytes: number }[];
  /** Resources the program declares, counted by type token. */
  resources: Record<string, number>;
  /** Stack outputs; values known only after deploy read "(known after deploy)". */
  outputs: Record<string, unknown>;
  /** Per node and per location: what its failure takes down (analysis/failure.ts). */
  failureAnalysis: DomainImpact[];
  warnings: string[];
}

export function buildPlanReport(run: ProgramRun): PlanReport {
  const cfg = run.config;
  const topology = buildTopology(cfg);
  const firewalls = buildFirewalls(cfg, topology);
  const resources: Record<string, number> = {};
  for (const r of run.resources) resources[r.type] = (resources[r.type] ?? 0) + 1;
  const failureAnalysis = analyseFailures(cfg, topology, run.platform);
  return {
    schemaVersion: PLAN_SCHEMA_VERSION,
    stack: cfg.stack,
    profile: cfg.profile,
    nodes: topology.nodes.map((n) => ({
      name: n.name,
      role: n.role,
      pool: n.pool,
      serverType: n.serverType,
      location: n.location,
      privateIp: n.privateIp,
      labels: { ...n.labels },
      availability: n.availability,
      placementGroup: n.placementGroup,
      edge: n.isEdge,
    })),
    firewall: topology.nodes.map((n) => ({
      node: n.name,
      rules: firewalls
        .filter((f) => f.nodes.includes(n.name))
        .flatMap((f) => f.rules.map((r) => ({
          firewall: f.name,
          protocol: r.protocol,
          port: r.port ?? null,
          sources: [...r.sourceIps],
          description: r.description,
        }))),
    })),
    placementGroups: topology.placementGroups.map((g) => ({ name: g.name, pool: g.pool, nodes: [...g.nodes] })),
    ...platformReport(run.platform.spec),
    resources: Object.fromEntries(Object.entries(resources).sort(([a], [b]) => a.localeCompare(b))),
    outputs: JSON.parse(JSON.stringify(run.outputs)) as Record<string, unknown>,
    failureAnalysis,
    warnings: [...failureWarnings(cfg.profile, failureAnalysis), ...partWarnings(run.platform)],
  };
}

export function platformReport(spec: PlatformSpec): Pick<PlanReport, "services" | "networks" | "secrets" | "configs"> {
  return {
    services: spec.services.map((s) => ({
      name: s.name,
      component: s.component,
      image: s.image,
      ...("global" in s.mode ? { mode: "global" as const } : { mode: "replicated" as const, replicas: s.mode.replicas }),
      constraints: [...s.placement.constraints],
      ...(s.node !== undefined ? { node: s.node } : {}),
      endpointMode: s.endpointMode,
      stateful: s.stateful,
      networks: s.networks.map((n) => n.key),
      secrets: s.secrets.map((r) => r.key),
      configs: s.configs.map((r) => r.key),
      volumes: s.mounts.filter((m) => m.type === "volume").map((m) => m.source),
      memoryLimitBytes: s.resources.limits.memoryBytes,
    })),
    networks: spec.networks.map((n) => ({ key: n.key, name: n.name, attachable: n.attachable, internal: n.internal, encrypted: n.encrypted, mtu: n.mtu })),
    secrets: spec.secrets.map((s) => ({ key: s.key, namePrefix: s.namePrefix, source: s.source.kind === "random" ? "random" : `setting ${s.source.setting}` })),
    configs: spec.configs.map((c) => ({ key: c.key, name: c.name, bytes: Buffer.byteLength(c.content, "utf8") })),
  };
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n") + "\n";
}

export function renderTable(report: PlanReport): string {
  const out: string[] = [];
  out.push(`Stack ${report.stack} (profile ${report.profile})\n`);
  out.push("\nNodes\n");
  out.push(table(
    ["NAME", "ROLE", "POOL", "TYPE", "LOCATION", "PRIVATE IP", "AVAILABILITY", "LABELS"],
    report.nodes.map((n) => [
      n.name + (n.edge ? " (edge)" : ""),
      n.role,
      n.pool,
      n.serverType,
      n.location,
      n.privateIp,
      n.availability,
      Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(","),
    ]),
  ));
  out.push("\nFirewall (public interface, inbound; everything else is dropped)\n");
  out.push(table(
    ["NODE", "PROTO", "PORT", "SOURCES", "WHY"],
    report.firewall.flatMap((f) => f.rules.map((r) => [f.node, r.protocol, r.port ?? "-", r.sources.join(","), r.description])),
  ));
  out.push("\nFailure analysis (worst case for stateless replicas; see analysis/failure.ts)\n");
  out.push(table(
    ["DOMAIN", "QUORUM LOST", "FLOATING IP", "LOST"],
    report.failureAnalysis.flatMap((d) => (d.lost.length > 0 ? [...d.lost, ...d.dataAtRisk] : ["nothing"]).map((item, i) => (i === 0
      ? [d.domain, d.quorumLost.length > 0 ? d.quorumLost.join(",") : "none", d.floatingIp, item]
      : ["", "", "", item]))),
  ));
  out.push("\nServices (Swarm)\n");
  out.push(table(
    ["SERVICE", "COMPONENT", "IMAGE", "REPLICAS", "PLACEMENT", "ENDPOINT", "MEMORY"],
    report.services.map((s) => [
      s.name,
      s.component,
      s.image,
      s.mode === "global" ? "global" : String(s.replicas),
      s.node ?? s.constraints.join(" && "),
      s.endpointMode,
      `${Math.round(s.memoryLimitBytes / (1024 * 1024))}M`,
    ]),
  ));
  out.push("\nResources\n");
  out.push(table(["TYPE", "COUNT"], Object.entries(report.resources).map(([t, c]) => [t, String(c)])));
  out.push("\nOutputs\n");
  for (const [k, v] of Object.entries(report.outputs)) {
    out.push(`${k}: ${typeof v === "string" ? v : JSON.stringify(v)}\n`);
  }
  for (const w of report.warnings) out.push(`\nWARNING: ${w}\n`);
  return out.join("");
}
