/**
 * A real Prometheus (Debian's) started on loopback with the generated
 * configuration and rules: it must load both without error. Bounded in time,
 * its process group and temp folder are removed after the test, also on failure.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { buildTopology } from "../core/topology";
import { buildPlatform } from "../platform/assemble";
import { loadStack } from "./support/config";
import { vaultArea } from "../families/vault";
import { requireTool } from "./support/tools";

/** This file's loopback ports. */
const PORTS = { test: 39421, prod: 39422 } as const;
const READY_TIMEOUT_MS = 30_000;

const dir = mkdtempSync(join(tmpdir(), "real-prometheus-"));
const children: ChildProcess[] = [];
after(async () => {
  for (const c of children) {
    if (c.pid === undefined || c.exitCode !== null) continue;
    const exited = new Promise((ok) => c.once("exit", ok));
    try {
      process.kill(-c.pid, "SIGTERM");
    } catch {
      continue;
    }
    await Promise.race([exited, new Promise((ok) => setTimeout(ok, 5_000))]);
    try {
      process.kill(-c.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

async function getJson(url: string): Promise<{ status: string; data: unknown }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  return (await res.json()) as { status: string; data: unknown };
}

for (const stack of ["test", "prod"] as const) {
  void test(`${stack}: Prometheus loads the generated configuration and every rule group`, async (t) => {
    if (!requireTool(t, "prometheus")) return;
    const config = loadStack(stack);
    const platform = buildPlatform(config, buildTopology(config)).spec;
    const text = (key: string): string => platform.configs.find((c) => c.key === key)?.content ?? assert.fail(`no config ${key}`);
    const d = mkdtempSync(join(dir, `${stack}-`));
    const rules = join(d, "platform.rules.yml");
    const ca = join(d, "vault-ca.pem");
    writeFileSync(rules, text("prometheus-rules"));
    writeFileSync(ca, config.section(vaultArea).tlsCertificate);
    const cfg = join(d, "prometheus.yml");
    writeFileSync(cfg, text("prometheus-config").replace("/etc/prometheus/rules/platform.rules.yml", rules).replace("/run/secrets/vault-tls-certificate", ca));

    const port = PORTS[stack];
    const log = join(d, "prometheus.log");
    const started = Date.now();
    const child = spawn("prometheus", [
      `--config.file=${cfg}`,
      `--storage.tsdb.path=${join(d, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--storage.tsdb.retention.time=1h",
    ], { detached: true, stdio: ["ignore", "ignore", "pipe"] });
    children.push(child);
    let stderr = "";
    child.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString();
      writeFileSync(log, stderr);
    });

    let ready = false;
    while (!ready && Date.now() - started < READY_TIMEOUT_MS && child.exitCode === null) {
      try {
        ready = (await fetch(`http://127.0.0.1:${port}/-/ready`, { signal: AbortSignal.timeout(1_000) })).ok;
      } catch {
        // not listening yet
      }
      if (!ready) await new Promise((ok) => setTimeout(ok, 100));
    }
    assert.ok(ready, `Prometheus not ready within ${READY_TIMEOUT_MS} ms (exit ${child.exitCode}):\n${stderr.slice(-2000)}`);
    const readyMs = Date.now() - started;

    const status = await getJson(`http://127.0.0.1:${port}/api/v1/status/config`);
    assert.equal(status.status, "success");
    const loaded = parse((status.data as { yaml: string }).yaml) as { scrape_configs: { job_name: string }[] };
    const expectedJobs = (parse(text("prometheus-config")) as { scrape_configs: { job_name: string }[] }).scrape_configs.map((j) => j.job_name);
    assert.deepEqual(loaded.scrape_configs.map((j) => j.job_name), expectedJobs);

    const ruleApi = await getJson(`http://127.0.0.1:${port}/api/v1/rules`);
    const groups = (ruleApi.data as { groups: { name: string; rules: { health: string; name: string; lastError?: string }[] }[] }).groups;
    const expectedGroups = (parse(text("prometheus-rules")) as { groups: { name: string; rules: unknown[] }[] }).groups;
    const byName = (a: [string, number], b: [string, number]): number => a[0].localeCompare(b[0]);
    assert.deepEqual(groups.map((g): [string, number] => [g.name, g.rules.length]).sort(byName), expectedGroups.map((g): [string, number] => [g.name, g.rules.length]).sort(byName));

    // Wait until every rule has been evaluated once (groups start at an offset within their interval).
    type RuleState = { health: string; name: string; lastError?: string; lastEvaluation: string };
    let evaluated: RuleState[] = [];
    const deadline = Date.now() + 40_000;
    do {
      await new Promise((ok) => setTimeout(ok, 500));
      evaluated = ((await getJson(`http://127.0.0.1:${port}/api/v1/rules`)).data as { groups: { rules: RuleState[] }[] }).groups.flatMap((g) => g.rules);
    } while (evaluated.some((r) => r.lastEvaluation.startsWith("0001-")) && Date.now() < deadline);
    assert.ok(!evaluated.some((r) => r.lastEvaluation.startsWith("0001-")), "every rule evaluated within 40 s");
    const broken = evaluated.filter((r) => r.health === "err");
    assert.deepEqual(broken.map((r) => `${r.name}: ${r.lastError}`), []);

    assert.ok(!/level=error/.test(stderr), stderr.split("\n").filter((l) => l.includes("level=error")).join("\n"));
    const total = expectedGroups.reduce((n, g) => n + g.rules.length, 0);
    process.stdout.write(`prometheus ${stack}: ready in ${readyMs} ms with ${expectedJobs.length} scrape jobs and ${total} rules\n`);
    assert.ok(existsSync(log) ? readFileSync(log, "utf8").includes("Server is ready to receive web requests") : false);
  });
}
