import { buildTopology } from "../core/topology";
import { buildFirewalls } from "../core/firewall";
import type { PlatformSpec } from "../core/model";
import { partWarnings } from "../platform/outputs";
import { analyseFailures, failureWarnings, type DomainImpact } from "../analysis/failure";
import { bootstrapSteps, stepCommandRule } from "../core/bootstrap";
import { planCost, type PlanCost } from "../analysis/cost";
import { readFileSync } from "node:fs";
import { changeImpact, type ChangeImpact, type ImpactPlan, type ImpactStep } from "../analysis/change-impact";
import type { ProgramRun, Registration } from "./mock-runtime";

/**
 * Version of the JSON plan layout; bumped when a field changes meaning or disappears.
 * 2: `resources` is the list of every registration (was the count by type, now `resourceCounts`);
 *    `cost` added; secret outputs read "[secret]" even before deploy (docs/plan.md).
 */
export const PLAN_SCHEMA_VERSION = 2;

/** One registered resource in engine form (tools/mock-runtime.ts Registration). */
export type PlanResource = Omit<Registration, "custom"> & { custom: boolean };

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
  /** Every resource the program registers, the stack and the default providers included, sorted by URN. */
  resources: PlanResource[];
  /** The same, counted by type token. */
  resourceCounts: Record<string, number>;
  /** The Swarm bootstrap steps, each one remote.Command: what runs where on create, update and delete. */
  bootstrap: ImpactStep[];
  /** The monthly bill from the dated catalogue (analysis/cost.ts). */
  cost: PlanCost;
  /** Stack outputs; values known only after deploy read "(known after deploy)". */
  outputs: Record<string, unknown>;
  /** Per node and per location: what its failure takes down (analysis/failure.ts). */
  failureAnalysis: DomainImpact[];
  warnings: string[];
}

/** A plan with the change impact against an earlier plan of the same stack (`--against`). */
export type PlanWithImpact = PlanReport & {
  changes: ChangeImpact["changes"];
  runs: ChangeImpact["runs"];
  restarts: ChangeImpact["restarts"];
  impact: { notice: string; against: string; summary: ChangeImpact["summary"]; cost?: ChangeImpact["cost"] };
};

export class PlanFileError extends Error {}

/** Reads an earlier `--format json` plan; refuses another layout or another stack. */
export function readPlanFile(path: string, stack: string): ImpactPlan & { path: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new PlanFileError(`expected the output of \`npm run plan -- --stack ${stack} --format json\`: ${e instanceof Error ? e.message : String(e)}`);
  }
  const d = doc as Partial<PlanReport>;
  if (!d || typeof d !== "object" || d.schemaVersion !== PLAN_SCHEMA_VERSION || !Array.isArray(d.resources) || !Array.isArray(d.bootstrap)) {
    throw new PlanFileError(`expected a JSON plan of schemaVersion ${PLAN_SCHEMA_VERSION} with resources[] and bootstrap[], got schemaVersion ${JSON.stringify(d?.schemaVersion)}; make it again from the old revision with \`npm run plan -- --stack ${stack} --format json\``);
  }
  if (d.stack !== stack) throw new PlanFileError(`is a plan of stack ${JSON.stringify(d.stack)}, not ${JSON.stringify(stack)}`);
  return { path, resources: d.resources, bootstrap: d.bootstrap, ...(d.cost ? { cost: d.cost } : {}) };
}

export function withImpact(report: PlanReport, before: ImpactPlan & { path: string }): PlanWithImpact {
  const impact = changeImpact(before, report);
  return {
    ...report,
    changes: impact.changes,
    runs: impact.runs,
    restarts: impact.restarts,
    impact: { notice: impact.notice, against: before.path, summary: impact.summary, ...(impact.cost ? { cost: impact.cost } : {}) },
  };
}

export function buildPlanReport(run: ProgramRun): PlanReport {
  const cfg = run.config;
  const topology = buildTopology(cfg);
  const firewalls = buildFirewalls(cfg, topology);
  const counts: Record<string, number> = {};
  for (const r of run.registrations) counts[r.type] = (counts[r.type] ?? 0) + 1;
  const failureAnalysis = analyseFailures(cfg, topology, run.platform);
  const commands = run.registrations.filter((r) => r.type === "command:remote:Command");
  const bootstrap: ImpactStep[] = bootstrapSteps(cfg, topology).map((step) => {
    const command = commands.find((c) => c.name.endsWith(`-${step.id}`));
    if (!command) throw new Error(`the program declares no command for bootstrap step ${step.id}`);
    const rule = stepCommandRule(step);
    return {
      id: step.id,
      kind: step.kind,
      urn: command.urn,
      runOn: step.runOn,
      node: step.node,
      script: rule.updateRuns,
      ...(rule.deleteRuns ? { deleteScript: rule.deleteRuns } : {}),
      ...(step.onDelete?.env.REMOVE_STEP ? { deleteStep: step.onDelete.env.REMOVE_STEP } : {}),
    };
  });
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
    resources: run.registrations.map((r) => ({ ...r })),
    resourceCounts: Object.fromEntries(Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    bootstrap,
    cost: planCost(run.registrations, topology.nodes),
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

/** The width the table keeps to. */
export const TABLE_WIDTH = 120;

/** Breaks text into lines of at most `width`, at spaces or after commas where it can. */
export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  for (const para of text.split("\n")) {
    let rest = para;
    while (rest.length > width) {
      const window = rest.slice(0, width + 1);
      let cut = Math.max(window.lastIndexOf(" "), window.lastIndexOf(",") + 1 === width + 1 ? -1 : window.lastIndexOf(",") + 1);
      if (cut <= 0) cut = width;
      out.push(rest.slice(0, cut).trimEnd());
      rest = rest.slice(cut).trimStart();
    }
    out.push(rest);
  }
  return out;
}

/** A table that fits TABLE_WIDTH: the widest columns shrink and their cells wrap. */
export function table(headers: string[], rows: string[][], width = TABLE_WIDTH): string {
  const gap = 2;
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => Math.max(...r[i].split("\n").map((l) => l.length)))));
  const floor = headers.map((h) => Math.max(h.length, 6));
  while (widths.reduce((a, b) => a + b, 0) + gap * (widths.length - 1) > width) {
    let widest = -1;
    for (let i = 0; i < widths.length; i++) if (widths[i] > floor[i] && (widest < 0 || widths[i] > widths[widest])) widest = i;
    if (widest < 0) break;
    widths[widest]--;
  }
  const lines = (cells: string[]): string[] => {
    const wrapped = cells.map((c, i) => wrap(c, widths[i]));
    const height = Math.max(...wrapped.map((w) => w.length));
    return Array.from({ length: height }, (_, k) => wrapped.map((w, i) => (w[k] ?? "").padEnd(widths[i])).join(" ".repeat(gap)).trimEnd());
  };
  return [...lines(headers), widths.map((w) => "-".repeat(w)).join(" ".repeat(gap)), ...rows.flatMap(lines)].join("\n") + "\n";
}

/** An output as a readable block: short values on the key's line, structures indented below it. */
function outputBlock(key: string, value: unknown): string {
  if (typeof value === "string" && !value.includes("\n") && key.length + value.length + 2 <= TABLE_WIDTH) return `${key}: ${value}\n`;
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  return `${key}:\n${text.split("\n").flatMap((l) => wrap(l, TABLE_WIDTH - 4)).map((l) => `    ${l}`).join("\n")}\n`;
}

const money = (a: number | "unknown"): string => (a === "unknown" ? "unknown" : a.toFixed(2));

/** A type token without its package module: hcloud:index/server:Server -> hcloud:Server. */
function shortType(type: string): string {
  const parts = type.split(":");
  return parts.length === 3 ? `${parts[0]}:${parts[2]}` : type;
}

export interface RenderOptions {
  /** Failure details per domain and every changed path. */
  readonly verbose?: boolean;
}

export function renderTable(report: PlanReport | PlanWithImpact, opts: RenderOptions = {}): string {
  const out: string[] = [];
  out.push(`Stack ${report.stack} (profile ${report.profile})\n`);
  out.push("\nNodes\n");
  out.push(table(
    ["NAME", "ROLE", "POOL", "TYPE", "LOCATION", "PRIVATE IP", "AVAILABILITY", "PLACEMENT GROUP", "LABELS"],
    report.nodes.map((n) => [
      n.name + (n.edge ? " (edge)" : ""),
      n.role,
      n.pool,
      n.serverType,
      n.location,
      n.privateIp,
      n.availability,
      n.placementGroup,
      Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(", "),
    ]),
  ));
  out.push("\nPlacement groups (spread: at most one node of the group per physical host)\n");
  out.push(table(["GROUP", "POOL", "NODES"], report.placementGroups.map((g) => [g.name, g.pool, g.nodes.join(", ")])));
  out.push("\nFirewall (public interface, inbound; everything else is dropped)\n");
  out.push(table(
    ["NODE", "PROTO", "PORT", "SOURCES", "WHY"],
    report.firewall.flatMap((f) => f.rules.map((r) => [f.node, r.protocol, r.port ?? "-", r.sources.join(", "), r.description])),
  ));
  out.push("\nFailure analysis: one line per failure domain (worst case for stateless replicas; details: --verbose or --format json)\n");
  out.push(table(
    ["DOMAIN", "QUORUM LOST", "FLOATING IP", "WHAT IS LOST"],
    report.failureAnalysis.map((d) => [
      d.domain,
      d.quorumLost.length > 0 ? d.quorumLost.join(", ") : "none",
      d.floatingIp,
      [d.lost.length === 0 ? "nothing" : opts.verbose ? d.lost.join("\n") : lostSummary(d), ...d.dataAtRisk].join("\n"),
    ]),
  ));
  out.push("\nServices (Swarm)\n");
  out.push(table(
    ["SERVICE", "COMPONENT", "IMAGE", "REPLICAS", "PLACEMENT", "ENDPOINT", "MEMORY"],
    report.services.map((s) => [
      s.name,
      s.component,
      shortDigest(s.image),
      s.mode === "global" ? "global" : String(s.replicas),
      s.node ?? s.constraints.join(" &&\n"),
      s.endpointMode,
      `${Math.round(s.memoryLimitBytes / (1024 * 1024))}M`,
    ]),
  ));
  out.push("\nOverlay networks\n");
  out.push(table(["KEY", "NAME", "ATTACHABLE", "INTERNAL", "ENCRYPTED", "MTU"], report.networks.map((n) => [n.key, n.name, yes(n.attachable), yes(n.internal), yes(n.encrypted), String(n.mtu)])));
  out.push("\nSwarm secrets (named by a hash of the value, known after deploy) and configs (named by content)\n");
  out.push(table(["KIND", "KEY", "NAME", "FROM"], [
    ...report.secrets.map((x) => ["secret", x.key, `${x.namePrefix}_<hash>`, x.source]),
    ...report.configs.map((c) => ["config", c.key, c.name, `${c.bytes} bytes`]),
  ]));
  out.push(`\nMonthly cost (${report.cost.currency} excl. VAT, catalogue prices of ${report.cost.asOf}; "unknown": no source gives the figure)\n`);
  out.push(table(["NODE", "POOL", "TYPE", "LOCATION", "SERVER", "PRIMARY IPV4", "TOTAL"], report.cost.perNode.map((n) => [
    n.node, n.pool, n.serverType, n.location,
    money(n.lines[0].monthly),
    money(n.lines.find((l) => l.item === "primary IPv4")?.monthly ?? 0),
    money(n.monthly),
  ])));
  for (const p of report.cost.perPool) out.push(`pool ${p.pool} (${p.nodes} nodes): ${money(p.monthly)}\n`);
  for (const o of report.cost.other) out.push(`${o.item}: ${money(o.monthly)}\n`);
  out.push(`total: ${money(report.cost.monthly)}${report.cost.monthly === "unknown" ? ` (the priced part: ${report.cost.knownMonthly.toFixed(2)})` : ""}\n`);
  for (const u of report.cost.unknown) out.push(paragraph(`unknown: ${u}`));
  out.push("\nResources\n");
  out.push(table(["TYPE", "COUNT"], Object.entries(report.resourceCounts).map(([t, c]) => [t, String(c)])));
  out.push("\nOutputs\n");
  for (const [k, v] of Object.entries(report.outputs)) out.push(outputBlock(k, v));
  if ("changes" in report) out.push(renderImpact(report, opts));
  for (const w of report.warnings) out.push(`\n${paragraph(`WARNING: ${w}`)}`);
  return out.join("");
}

/** Text wrapped to the table width, continuation lines indented. */
function paragraph(text: string): string {
  return `${wrap(text, TABLE_WIDTH - 4).join("\n    ")}\n`;
}

/** An image pinned by digest: the digest on its own line, cut to 12 hex digits as `docker` prints ids (the JSON has it whole). */
function shortDigest(image: string): string {
  return image.replace(/@sha256:([0-9a-f]{12})[0-9a-f]{52}$/, "\n@sha256:$1…");
}

function yes(b: boolean): string {
  return b ? "yes" : "no";
}

/** What a domain loses, shortened: quorums first, then counts of the rest. */
function lostSummary(d: DomainImpact): string {
  const members = d.stateful.filter((f) => f.lost > 0).map((f) => `${f.family} ${f.remaining}/${f.members}${f.keepsQuorum ? "" : " (no quorum)"}`);
  const tasks = d.stateless.filter((s) => s.lost > 0);
  const parts = [
    ...(members.length ? [`members: ${members.join(", ")}`] : []),
    ...(tasks.length ? [`tasks of ${tasks.length} service(s): ${tasks.map((t) => t.service).join(", ")}`] : []),
  ];
  return parts.length ? parts.join("; ") : `${d.lost.length} item(s)`;
}

function renderImpact(report: PlanWithImpact, opts: RenderOptions): string {
  const out: string[] = [];
  const s = report.impact.summary;
  out.push(`\nChange impact against ${report.impact.against}\n`);
  out.push(paragraph(report.impact.notice));
  out.push(`${s.create} to create, ${s.update} to update, ${s.replace} to replace, ${s.delete} to delete, ${s.same} unchanged\n`);
  const changed = report.changes.filter((c) => c.op !== "same");
  if (changed.length > 0) {
    out.push(table(["OP", "TYPE", "NAME", "CHANGED INPUTS"], changed.map((c) => {
      const paths = opts.verbose || c.paths.length <= 4 ? c.paths : [...c.paths.slice(0, 4), `... ${c.paths.length - 4} more (--verbose)`];
      const extra = [
        ...(c.replaceBecause ? [`replaced (${c.order}) because of ${c.replaceBecause.join(", ")}`] : []),
        ...(c.blockedByProtect ? ["PROTECTED: the up stops here; unprotect first"] : []),
        ...(c.notes ?? []),
      ];
      return [c.op, shortType(c.type), c.name, [...paths, ...extra].join("\n") || "-"];
    })));
  }
  out.push("\nScripts that would run (in order; deletes at the end of the up)\n");
  out.push(report.runs.length === 0 ? "none\n" : table(["ACTION", "SCRIPT", "ON NODE", "ABOUT", "BECAUSE"], report.runs.map((r) => [r.action, `${r.script}.sh`, r.on, r.node, `${r.step} ${r.because}`])));
  out.push("\nServices that would restart\n");
  out.push(report.restarts.length === 0 ? "none\n" : table(["SERVICE", "HOW", "WHY"], report.restarts.map((r) => [r.service, r.op, r.paths.slice(0, 3).join(", ") + (r.paths.length > 3 ? ", ..." : "")])));
  const c = report.impact.cost;
  if (c) {
    const delta = c.delta === "unknown" ? `unknown (priced part: ${c.knownDelta >= 0 ? "+" : ""}${c.knownDelta.toFixed(2)})` : `${c.delta >= 0 ? "+" : ""}${c.delta.toFixed(2)}`;
    out.push(`\nMonthly cost: ${money(c.before)} -> ${money(c.after)} ${c.currency}, delta ${delta}\n`);
  }
  return out.join("");
}
