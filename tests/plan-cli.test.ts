import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./support/config";

function plan(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "tools", "plan.ts"), ...args], { encoding: "utf8", cwd: ROOT, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("npm run plan (offline)", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "plan-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("--format json: stable document with nodes, firewall and outputs", () => {
    const r = plan(["--stack", "prod", "--format", "json"]);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.schemaVersion, 1);
    assert.equal(report.stack, "prod");
    assert.equal(report.profile, "prod");
    assert.deepEqual(report.nodes.map((n: { name: string; role: string; privateIp: string }) => [n.name, n.role, n.privateIp]), [
      ["prod-mgr-01", "manager", "10.20.1.10"], ["prod-mgr-02", "manager", "10.20.1.11"], ["prod-mgr-03", "manager", "10.20.1.12"],
      ["prod-app-01", "worker", "10.20.1.30"], ["prod-app-02", "worker", "10.20.1.31"], ["prod-app-03", "worker", "10.20.1.32"],
    ]);
    assert.deepEqual(report.nodes[3].labels, { type: "service", location: "fsn1", pool: "app", edge: "true" });
    const edge = report.firewall.find((f: { node: string }) => f.node === "prod-app-01");
    assert.deepEqual(edge.rules.map((x: { protocol: string; port: string | null }) => `${x.protocol}/${x.port}`), ["tcp/2222", "icmp/null", "tcp/80", "tcp/443"]);
    assert.equal(report.outputs.edgeNode, "prod-app-01");
    assert.deepEqual(report.outputs.edgeCandidates, ["prod-app-01", "prod-app-02"]);
    assert.equal(report.outputs.floatingIp, "(known after deploy)");
    assert.equal(report.resources["hcloud:index/server:Server"], 6);
    assert.match(report.warnings.join("\n"), /replaced by stand-ins \([^)]*swarm-platform:sshPrivateKey[,)]/);
  });

  test("table format for people", () => {
    const r = plan(["--stack", "test"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Stack test \(profile test\)$/m);
    assert.match(r.stdout, /^test-app-01 \(edge\)\s+worker\s+app\s+cx32\s+fsn1\s+10\.20\.1\.30\s+active/m);
  });

  test("a bad stack file prints every problem with its key and exits 1", () => {
    const text = readFileSync(join(ROOT, "Pulumi.prod.yaml"), "utf8")
      .replace("swarm-platform:sshPort: 2222", "swarm-platform:sshPort: 4789")
      .replace("    - 198.51.100.0/24", "    - 0.0.0.0/0");
    writeFileSync(join(dir, "Pulumi.prod.yaml"), text);
    const r = plan(["--stack", "prod", "--dir", dir]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /swarm-platform:sshAllowedCidrs: expected admin ranges only in prod/);
    assert.match(r.stderr, /swarm-platform:sshPort: expected a port other than 2377, 7946, 4789, 80, 443, got 4789/);
  });

  test("bad flags exit 2 with the usage", () => {
    assert.equal(plan([]).status, 2);
    const r = plan(["--stack", "prod", "--format", "xml"]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--format: expected one of table, json/);
    assert.equal(plan(["--stack", "nope"]).status, 1);
  });
});
