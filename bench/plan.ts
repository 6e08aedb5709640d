/**
 * Measures the offline plan: wall time of `npm run plan -- --stack prod` as a
 * fresh process (what a person waits for), and how the in-process evaluation
 * grows with the node count. Prints figures as JSON lines; asserts nothing.
 *
 *   npm run bench:plan [-- --runs 5]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseDocument } from "yaml";

const ROOT = resolve(__dirname, "..");
const runsArg = process.argv.indexOf("--runs");
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function figure(name: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ figure: name, value: Math.round(value * 1000) / 1000, unit, ...extra }) + "\n");
}

function timePlan(dir: string, stack: string): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "tools", "plan.ts"), "--stack", stack, "--format", "json", "--dir", dir], { encoding: "utf8" });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) throw new Error(`plan failed: ${r.stderr}`);
  return seconds;
}

/** A prod stack file with `workers` service nodes (3 managers stay). */
function scaledStack(dir: string, workers: number): void {
  const doc = parseDocument(readFileSync(join(ROOT, "Pulumi.prod.yaml"), "utf8"));
  doc.setIn(["config", "swarm-platform:nodePools"], doc.createNode([
    "mgr role=manager count=3 type=cx33 locations=fsn1,nbg1,hel1 ipOffset=10",
    `app role=worker count=${workers} type=cx43 locations=fsn1,nbg1,hel1 labels=type:service ipOffset=30`,
  ]));
  doc.setIn(["config", "swarm-platform:subnetCidr"], "10.20.0.0/22");
  writeFileSync(join(dir, "Pulumi.prod.yaml"), doc.toString());
}

const dir = mkdtempSync(join(tmpdir(), "bench-plan-"));
try {
  const committed = Array.from({ length: RUNS }, () => timePlan(ROOT, "prod"));
  figure("plan_prod_wall_s", median(committed), "s", { runs: RUNS, min: Math.min(...committed), max: Math.max(...committed) });
  for (const nodes of [6, 12, 30, 60]) {
    scaledStack(dir, nodes - 3);
    const times = Array.from({ length: RUNS }, () => timePlan(dir, "prod"));
    figure("plan_prod_wall_s_by_nodes", median(times), "s", { nodes, runs: RUNS });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
