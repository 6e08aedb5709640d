/**
 * The edge failover drill, runnable alone (about 2 minutes, root):
 *   flock /tmp/swarm-platform-edge-drill.lock node --import tsx --test e2e/edge.e2e.test.ts
 * Three runs, each on fresh namespaces: power off the candidate the floating IP is routed to while
 * a client sends HTTPS requests through it, then power it back on. Figures are printed as JSON lines
 * (one per run, then min/median/max); the assertions are the acceptance bar.
 */
import assert from "node:assert/strict";
import { after, test, type TestContext } from "node:test";
import { cleanupEdgeDrill, edgeDrillPrerequisite, runEdgeFailover, startEdgeDrill, type DrillFigures, type EdgeDrill } from "./edge-drill";
import { figure } from "./harness";

const RUNS = Number(process.env.EDGE_DRILL_RUNS ?? 3);
let current: EdgeDrill | undefined;

after(async () => {
  await current?.stop();
  cleanupEdgeDrill();
});

function stats(values: readonly number[]): { min: number; median: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { min: sorted[0], median, max: sorted[sorted.length - 1] };
}

void test("the edge keeps its floating IP when the active candidate powers off", { timeout: 240_000 }, async (t: TestContext) => {
  const missing = edgeDrillPrerequisite();
  if (missing) {
    if (process.env.CI === "true") assert.fail(`CI=true but the edge drill cannot run: ${missing}`);
    t.skip(missing);
    return;
  }
  const runs: DrillFigures[] = [];
  for (let i = 1; i <= RUNS; i++) {
    current = await startEdgeDrill((line) => t.diagnostic(`run ${i}: ${line}`));
    const f = await runEdgeFailover(current, (line) => t.diagnostic(`run ${i}: ${line}`));
    await current.stop();
    current = undefined;
    runs.push(f);
    t.diagnostic(`run ${i}: ${f.from} -> ${f.to}, ${f.requests} requests`);
    figure(`edge_failover_s`, f.edge_failover_s, "s");
    figure(`edge_failover_assigns`, f.edge_failover_assigns, "calls");
    figure(`edge_requests_failed`, f.edge_requests_failed, "requests");
    figure(`edge_cert_same`, f.edge_cert_same, "bool");
    figure(`edge_flap_assigns`, f.edge_flap_assigns, "calls");
    figure(`edge_assign_after_s`, f.edge_assign_after_s, "s");
  }
  for (const key of ["edge_failover_s", "edge_failover_assigns", "edge_requests_failed", "edge_cert_same"] as const) {
    const s = stats(runs.map((r) => r[key]));
    const unit = key === "edge_failover_s" ? "s" : "n";
    figure(`${key}_min`, s.min, unit);
    figure(`${key}_median`, s.median, unit);
    figure(`${key}_max`, s.max, unit);
  }
  for (const [i, f] of runs.entries()) {
    assert.equal(f.edge_failover_assigns, 1, `run ${i + 1}: one assign per failover`);
    assert.equal(f.edge_cert_same, 1, `run ${i + 1}: the standby serves the same certificate`);
    assert.equal(f.edge_requests_failed_after_recovery, 0, `run ${i + 1}: no failed request after the node is back`);
    assert.equal(f.edge_flap_assigns, 0, `run ${i + 1}: no assign after the node is back (no flapping)`);
    assert.ok(f.edge_failover_s <= 10, `run ${i + 1}: failover within 10 s (was ${f.edge_failover_s} s)`);
  }
});
