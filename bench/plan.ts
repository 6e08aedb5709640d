/**
 * Measures the offline plan: wall time of the prod plan as a fresh process (what a person waits
 * for) beside a bare `node -e "require('@pulumi/pulumi')"` measured in the same run, interleaved,
 * so that the ratio survives a noisy machine; and the 60-node plan beside the 6-node plan.
 * Prints figures as JSON lines, then the two ratios with their goals; asserts nothing.
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

function timed(args: readonly string[]): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { encoding: "utf8", cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) throw new Error(`${args.join(" ")} failed: ${r.stderr}`);
  return seconds;
}

/** The plan as `npm run plan` runs it (tools/plan-launch.cjs: precompiled, plain node), without npm's own start-up. */
const planArgs = (dir: string): string[] => [join(ROOT, "tools", "plan-launch.cjs"), "--stack", "prod", "--format", "json", "--dir", dir];
const BARE = ["-e", "require('@pulumi/pulumi')"];

/** The committed prod stack file with `workers` nodes in its worker pool (its managers stay). */
function scaledStack(dir: string, workers: number): void {
  const doc = parseDocument(readFileSync(join(ROOT, "Pulumi.prod.yaml"), "utf8"));
  const pools = (doc.getIn(["config", "swarm-platform:nodePools"]) as { toJSON(): string[] }).toJSON();
  doc.setIn(["config", "swarm-platform:nodePools"], doc.createNode(pools.map((p) => (/ role=worker /.test(p) ? p.replace(/count=\d+/, `count=${workers}`) : p))));
  doc.setIn(["config", "swarm-platform:subnetCidr"], "10.20.0.0/22");
  writeFileSync(join(dir, "Pulumi.prod.yaml"), doc.toString());
  writeFileSync(join(dir, "Pulumi.yaml"), readFileSync(join(ROOT, "Pulumi.yaml")));
}

const dir6 = mkdtempSync(join(tmpdir(), "bench-plan-6-"));
const dir60 = mkdtempSync(join(tmpdir(), "bench-plan-60-"));
try {
  scaledStack(dir6, 3);
  scaledStack(dir60, 57);
  timed(planArgs(ROOT)); // warm the file cache and build the plan's bundle once; not counted
  const bare: number[] = [];
  const prod: number[] = [];
  const six: number[] = [];
  const sixty: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Interleaved, so that a busy moment of the machine hits every figure alike.
    bare.push(timed(BARE));
    prod.push(timed(planArgs(ROOT)));
    six.push(timed(planArgs(dir6)));
    sixty.push(timed(planArgs(dir60)));
  }
  const spread = (xs: number[]) => ({ runs: RUNS, min: Math.round(Math.min(...xs) * 1000) / 1000, max: Math.round(Math.max(...xs) * 1000) / 1000 });
  figure("bare_require_pulumi_s", median(bare), "s", spread(bare));
  figure("plan_prod_wall_s", median(prod), "s", spread(prod));
  figure("plan_6_nodes_wall_s", median(six), "s", spread(six));
  figure("plan_60_nodes_wall_s", median(sixty), "s", spread(sixty));
  figure("ratio_prod_plan_to_bare_require", median(prod) / median(bare), "x", { goal: 1.5 });
  figure("ratio_60_to_6_nodes", median(sixty) / median(six), "x", { goal: 1.3 });
} finally {
  rmSync(dir6, { recursive: true, force: true });
  rmSync(dir60, { recursive: true, force: true });
}
