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
    assert.equal(report.schemaVersion, 2);
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
    assert.equal(report.resourceCounts["hcloud:index/server:Server"], 6);
    assert.equal(report.resources.length, Object.values(report.resourceCounts as Record<string, number>).reduce((a, b) => a + b, 0));
    assert.match(report.warnings.join("\n"), /replaced by stand-ins \([^)]*swarm-platform:sshPrivateKey[,)]/);
  });

  test("--format json: every registration in engine form, byte-identical on every run", () => {
    const a = plan(["--stack", "prod", "--format=json"]);
    const b = plan(["--stack", "prod", "--format", "json"]);
    assert.equal(a.status, 0, a.stderr);
    assert.equal(a.stdout, b.stdout, "the same stack file prints the same JSON");
    const report = JSON.parse(a.stdout);
    type R = { urn: string; type: string; name: string; parent?: string; provider?: string; inputs: Record<string, unknown>; options: Record<string, unknown> };
    const byUrn = new Map<string, R>(report.resources.map((r: R) => [r.urn, r]));
    const P = "urn:pulumi:prod::swarm-platform::";
    const stack = byUrn.get(`${P}pulumi:pulumi:Stack::swarm-platform-prod`);
    assert.ok(stack, "the stack resource is listed");
    assert.equal(stack.parent, undefined);
    for (const [pkg, v] of [["hcloud", "1_41_0"], ["random", "4_21_2"], ["command", "1_2_1"]]) {
      assert.equal(byUrn.get(`${P}pulumi:providers:${pkg}::default_${v}`)?.parent, stack.urn, `default provider ${pkg}`);
    }
    // The engine's URN: the parent's qualified type chain, the stack type left out.
    const server = byUrn.get(`${P}swarm:infra:Cluster$hcloud:index/server:Server::cluster-prod-app-01`);
    assert.ok(server);
    assert.equal(server.parent, `${P}swarm:infra:Cluster::cluster`);
    assert.equal(server.provider, `${P}pulumi:providers:hcloud::default_1_41_0`);
    assert.equal(server.inputs.serverType, report.nodes.find((n: { name: string }) => n.name === "prod-app-01").serverType);
    assert.equal(server.inputs.userData, "[secret]", "a secret still unknown at plan time reads [secret]");
    assert.deepEqual(server.options, {
      protect: true, ignoreChanges: ["userData", "image", "sshKeys"], replaceOnChanges: [], deleteBeforeReplace: true,
      dependsOn: [], additionalSecretOutputs: [],
    });
    const cluster = byUrn.get(`${P}swarm:infra:Cluster::cluster`);
    assert.equal(cluster?.parent, stack.urn);
    const second = byUrn.get(`${P}swarm:infra:Cluster$hcloud:index/server:Server::cluster-prod-app-02`);
    assert.deepEqual(second?.options.dependsOn, [server.urn], "servers of a pool are created one after the other");
    const join = byUrn.get(`${P}swarm:bootstrap:Swarm$command:remote:Command::swarm-join-prod-app-01`);
    assert.ok(join);
    assert.deepEqual(join.options.replaceOnChanges, ["triggers[*]"], "@pulumi/command's own replaceOnChanges reaches the engine");
    assert.equal(join.provider, `${P}pulumi:providers:command::default_1_2_1`);
    const hostKey = byUrn.get(`${P}swarm:infra:Cluster$random:index/randomPassword:RandomPassword::cluster-prod-app-01-host-key`);
    assert.deepEqual(hostKey?.options.additionalSecretOutputs, ["bcryptHash", "result"]);
    const service = report.resources.find((r: R) => r.type === "docker:index/service:Service");
    assert.equal(service.provider, `${P}swarm:bootstrap:Swarm$pulumi:providers:docker::swarm-docker`);
    // Secret outputs are secrets, not "known after deploy".
    assert.equal(report.outputs.redisAdminPassword, "[secret]");
    assert.equal(report.outputs.floatingIp, "(known after deploy)");
  });

  test("--against an earlier plan: the impact in JSON and in the table, with the estimate notice", () => {
    const earlier = plan(["--stack", "prod", "--format", "json"]);
    assert.equal(earlier.status, 0, earlier.stderr);
    writeFileSync(join(dir, "old.json"), earlier.stdout);
    const text = readFileSync(join(ROOT, "Pulumi.prod.yaml"), "utf8").replace("oliver006/redis_exporter:v1.66.0-alpine", "oliver006/redis_exporter:v1.67.0-alpine");
    writeFileSync(join(dir, "Pulumi.prod.yaml"), text);
    writeFileSync(join(dir, "Pulumi.yaml"), readFileSync(join(ROOT, "Pulumi.yaml")));
    const json = plan(["--stack", "prod", "--dir", dir, "--format", "json", `--against=${join(dir, "old.json")}`]);
    assert.equal(json.status, 0, json.stderr);
    const report = JSON.parse(json.stdout);
    assert.deepEqual(report.changes.filter((c: { op: string }) => c.op !== "same"), [{
      urn: "urn:pulumi:prod::swarm-platform::swarm:platform:Services$docker:index/service:Service::platform-svc-redis-exporter",
      type: "docker:index/service:Service", name: "platform-svc-redis-exporter", op: "update", paths: ["taskSpec.containerSpec.image"],
    }]);
    assert.deepEqual(report.runs, []);
    assert.match(report.impact.notice, /`pulumi preview` decides/);
    const table = plan(["--stack", "prod", "--dir", dir, "--against", join(dir, "old.json")]);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /^Change impact against /m);
    assert.match(table.stdout, /offline estimate/);
    assert.match(table.stdout, /^0 to create, 1 to update, 0 to replace, 0 to delete, \d+ unchanged$/m);
    assert.match(table.stdout, /^update\s+docker:Service\s+platform-svc-redis-exporter\s+taskSpec\.containerSpec\.image$/m);
    assert.match(table.stdout, /^prod_redis-exporter\s+update/m);
    assert.ok(table.stdout.split("\n").every((l) => l.length <= 120), "the table keeps to 120 columns");
    writeFileSync(join(dir, "bad.json"), JSON.stringify({ schemaVersion: 1, resources: {} }));
    const bad = plan(["--stack", "prod", "--against", join(dir, "bad.json")]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /expected a JSON plan of schemaVersion 2 .* got schemaVersion 1/);
  });

  test("table format for people", () => {
    const r = plan(["--stack", "test"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Stack test \(profile test\)$/m);
    assert.match(r.stdout, /^test-app-01 \(edge\)\s+worker\s+app\s+\S+\s+fsn1\s+10\.20\.1\.30\s+active/m);
  });

  test("the prod table fits 120 columns: one line per failure domain, placement groups, networks, secrets, configs, cost", () => {
    const r = plan(["--stack", "prod"]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split("\n");
    assert.deepEqual(lines.filter((l) => l.length > 120), []);
    for (const heading of [/^Placement groups/, /^Overlay networks$/, /^Swarm secrets .* and configs/, /^Monthly cost \(EUR/, /^Failure analysis: one line per failure domain/]) {
      assert.ok(lines.some((l) => heading.test(l)), String(heading));
    }
    assert.match(r.stdout, /^prod-app-spread-1\s+app\s+prod-app-01, prod-app-02, prod-app-03$/m);
    assert.match(r.stdout, /^platform\s+prod_platform\s+yes/m);
    assert.match(r.stdout, /^secret\s+redis-password\s+prod_redis-password_<hash>\s+random$/m);
    // One line per domain: the domain column is filled once per domain, continuation lines leave it empty.
    const report = JSON.parse(plan(["--stack", "prod", "--format", "json"]).stdout);
    const start = lines.findIndex((l) => l.startsWith("Failure analysis"));
    const end = lines.findIndex((l, i) => i > start && l === "");
    const domains = lines.slice(start + 3, end).filter((l) => /^\S/.test(l)).map((l) => l.split(/\s+/)[0]);
    assert.deepEqual(domains, report.failureAnalysis.map((d: { domain: string }) => d.domain));
    assert.match(r.stdout, /^node:prod-app-01\s+none\s+kept\s+members: etcd 2\/3/m);
    const verbose = plan(["--stack", "prod", "--verbose"]);
    assert.ok(verbose.stdout.includes(report.failureAnalysis[3].lost[0]), "--verbose lists each lost item");
    // Outputs as blocks: a structure is indented below its key, not one long line.
    assert.match(r.stdout, /^vaultInitSteps:\n {4}\S/m);
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
    const unknown = plan(["--stack", "prod", "--fromat", "json"]);
    assert.equal(unknown.status, 2);
    assert.equal(unknown.stdout, "");
    assert.match(unknown.stderr, /unknown flag "--fromat"; `npm run plan -- --help` lists the flags/);
    assert.equal(plan(["--stack=prod", "--format="]).status, 2);
  });

  test("--help prints the usage on stdout and exits 0", () => {
    const r = plan(["--help"]);
    assert.equal(r.status, 0);
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /^usage: npm run plan -- --stack/);
    assert.match(r.stdout, /--against FILE/);
  });
});
