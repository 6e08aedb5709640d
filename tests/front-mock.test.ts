/**
 * The real program under Pulumi mocks: the exact docker resources the front
 * services become, for both stacks, and the offline plan that lists them.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { requireTool } from "./support/tools";
import { runProgram, SecretValue, type ProgramRun, type RecordedResource } from "../tools/mock-runtime";
import { planStack } from "../tools/plan";
import { buildTopology } from "../core/topology";
import { vaultRunbook } from "../families/vault/specs";
import { ROOT, stackFileConfig } from "./support/config";

const SERVICE = "docker:index/service:Service";
const CONFIG = "docker:index/serviceConfig:ServiceConfig";
const SECRET = "docker:index/secret:Secret";
const RANDOM = "random:index/randomPassword:RandomPassword";

const FRONT_COMPONENTS = ["vault", "apisix", "apisix-dashboard", "apisix-routes", "edge", "prometheus", "alertmanager", "grafana", "node-exporter", "cadvisor", "redis-exporter"];

type Inputs = Record<string, unknown>;
/** Pulumi's wire form of a secret value: an input that holds a secret (a secret's content-hashed name) arrives wrapped. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const unwrap = (v: unknown): unknown => (v && typeof v === "object" && SECRET_SIG in v ? (v as unknown as { value: unknown }).value : v);
const taskOf = (r: RecordedResource) => unwrap(r.inputs.taskSpec) as { containerSpec: Inputs; placement: Inputs; resources: Inputs; networksAdvanceds: Inputs[]; restartPolicy: Inputs };
const labelsOf = (r: RecordedResource): Record<string, string> =>
  Object.fromEntries((r.inputs.labels as { label: string; value: string }[]).map((l) => [l.label, l.value]));

/** Pulumi's mock runtime is process-global: the programs run one after the other, before any test reads them. */
const runs = new Map<string, ProgramRun>();
before(async () => {
  for (const stack of ["test", "prod"] as const) runs.set(stack, await runProgram(stack, stackFileConfig(stack), { preview: true }));
});

for (const stack of ["test", "prod"] as const) {
  void describe(`${stack}: docker resources of the front services (mocks, preview)`, () => {
    let run: ProgramRun;
    before(() => {
      run = runs.get(stack) ?? assert.fail(`no run for ${stack}`);
    });

    const service = (name: string): RecordedResource => run.one(SERVICE, `platform-svc-${name}`);

    void test("every front service exists once, named <prefix>_<name>, with a component label", () => {
      const front = run.byType(SERVICE).filter((r) => FRONT_COMPONENTS.includes(labelsOf(r)["swarm-platform.component"]));
      const names = front.map((r) => r.inputs.name).sort();
      const members = stack === "prod" ? ["vault-1", "vault-2", "vault-3"] : ["vault-1"];
      assert.deepEqual(names, [...members, "alertmanager", "apisix", "apisix-dashboard", "apisix-routes", "cadvisor", "edge", "grafana", "node-exporter", "prometheus", "redis-exporter"].map((n) => `${stack}_${n}`).sort());
      for (const r of front) {
        // Global services cannot carry convergeConfig (the provider refuses it beside mode.global).
        if (!(r.inputs.mode as Inputs).global) assert.ok(r.inputs.convergeConfig, `${r.name} waits for convergence`);
        assert.equal((r.inputs.updateConfig as Inputs).failureAction, "rollback", `${r.name} rolls back a failed update`);
        assert.ok(!/:latest$|^[^:]+$/.test(taskOf(r).containerSpec.image as string), `${r.name} image is pinned`);
        const hc = taskOf(r).containerSpec.healthcheck as { tests: string[] };
        assert.ok(hc.tests.length > 1, `${r.name} has a healthcheck`);
        const limits = (taskOf(r).resources as { limits: { nanoCpus: number; memoryBytes: number } }).limits;
        assert.ok(limits.nanoCpus > 0 && limits.memoryBytes > 0, `${r.name} has limits`);
        const ports = (r.inputs.endpointSpec as { ports: { publishMode: string; publishedPort: number }[] }).ports;
        if (labelsOf(r)["swarm-platform.component"] === "edge") {
          assert.deepEqual(ports.map((p) => [p.publishedPort, p.publishMode]), [[80, "host"]]);
        } else {
          assert.deepEqual(ports, [], `${r.name} publishes nothing`);
        }
        const env = taskOf(r).containerSpec.env as Record<string, string>;
        for (const [k, v] of Object.entries(env)) {
          assert.ok(!/PASSWORD$|_KEY$|TOKEN$|SECRET$/.test(k), `${r.name}: ${k} looks like a secret in the environment`);
          assert.ok(!v.includes("BEGIN") && !v.includes("PRIVATE"), `${r.name}: ${k} carries key material`);
        }
      }
    });

    void test("vault-1: pinned, dnsrr, its volume on its node, config and TLS secrets as files", () => {
      const v = service("vault-1");
      const node = stack === "prod" ? "prod-app-01" : "test-app-01";
      assert.deepEqual(taskOf(v).placement, { constraints: [`node.hostname == ${node}`], prefs: [] });
      assert.deepEqual(v.inputs.mode, { replicated: { replicas: 1 } });
      assert.equal((v.inputs.endpointSpec as Inputs).mode, "dnsrr");
      assert.deepEqual(taskOf(v).containerSpec.mounts, [{
        type: "volume", source: `${stack}_vault-1-data`, target: "/vault/file", readOnly: false,
        volumeOptions: { driverName: "local", labels: [{ label: "swarm-platform.stack", value: stack }, { label: "swarm-platform.component", value: "vault" }] },
      }]);
      const configs = taskOf(v).containerSpec.configs as Inputs[];
      assert.deepEqual(configs.map((c) => [c.fileName, c.fileMode, c.fileUid, c.fileGid]), [["/vault/config/platform.json", 0o440, "100", "1000"]]);
      const cfg = run.one(CONFIG, "platform-config-vault-1-config");
      const json = JSON.parse(Buffer.from(cfg.inputs.data as string, "base64").toString("utf8")) as { storage: { raft: { node_id: string } }; listener: { tcp: Inputs }[] };
      assert.equal(json.storage.raft.node_id, "vault-1");
      const secrets = (taskOf(v).containerSpec.secrets ?? []) as Inputs[];
      if (stack === "prod") {
        assert.deepEqual(secrets.map((s) => [s.fileName, s.fileMode]), [["/run/secrets/vault-tls-certificate", 0o444], ["/run/secrets/vault-tls-key", 0o400]]);
        assert.equal(json.listener[0].tcp.tls_key_file, "/run/secrets/vault-tls-key");
        assert.equal(run.byType(SECRET).filter((s) => s.name.startsWith("platform-secret-vault-tls")).length, 2);
      } else {
        assert.deepEqual(secrets, []);
        assert.equal(json.listener[0].tcp.tls_disable, true);
      }
      assert.equal((v.inputs.updateConfig as Inputs).order, "stop-first");
    });

    void test("apisix: replicas, one per service node, on edge + platform + etcd + admin; random secrets for keys", () => {
      const a = service("apisix");
      const replicas = stack === "prod" ? 3 : 1;
      assert.deepEqual(a.inputs.mode, { replicated: { replicas } });
      assert.deepEqual(taskOf(a).placement, { constraints: ["node.labels.type == service"], prefs: ["node.labels.location"], maxReplicas: 1 });
      assert.equal(taskOf(a).networksAdvanceds.length, 4);
      for (const n of taskOf(a).networksAdvanceds) assert.deepEqual(n.aliases, ["apisix"]);
      const randoms = run.byType(RANDOM).map((r) => [r.name, r.inputs.length]);
      for (const [key, length] of [["apisix-admin-key", 32], ["apisix-data-key", 16], ["apisix-dashboard-password", 24], ["apisix-dashboard-jwt-secret", 32], ["grafana-admin-password", 24]] as const) {
        assert.deepEqual(randoms.find(([n]) => n === `platform-${key}`), [`platform-${key}`, length]);
      }
      const routes = service("apisix-routes");
      assert.deepEqual(taskOf(routes).containerSpec.commands, ["/bin/sh", "/platform/apisix-apply.sh"]);
      const manifest = run.byType(CONFIG).find((c) => c.name === "platform-config-apisix-routes-manifest");
      assert.ok(manifest);
      const text = Buffer.from(manifest.inputs.data as string, "base64").toString("utf8");
      assert.equal(text.includes("\"policy\":\"redis\""), stack === "prod");
    });

    void test("prometheus on the monitoring node; grafana by profile; exporters global", () => {
      const monitoring = stack === "prod" ? "prod-app-03" : "test-app-02";
      assert.deepEqual((taskOf(service("prometheus")).placement as Inputs).constraints, [`node.hostname == ${monitoring}`]);
      const grafanaMounts = taskOf(service("grafana")).containerSpec.mounts as Inputs[];
      if (stack === "prod") assert.deepEqual(grafanaMounts, [{ type: "bind", source: "/mnt/storagebox/grafana/data", target: "/var/lib/grafana", readOnly: false }]);
      else assert.equal(grafanaMounts[0].source, "test_grafana-data");
      assert.deepEqual(service("node-exporter").inputs.mode, { global: true });
      assert.deepEqual(service("cadvisor").inputs.mode, { global: true });
      assert.equal((taskOf(service("grafana")).containerSpec.env as Record<string, string>).GF_SECURITY_ADMIN_PASSWORD__FILE, "/run/secrets/grafana-admin-password");
    });

    void test("edge: on the edge candidates (pinned when there is one), stop-first (host ports), Caddyfile as config", () => {
      const e = service("edge");
      assert.deepEqual((taskOf(e).placement as Inputs).constraints, [stack === "test" ? `node.hostname == ${stack}-app-01` : "node.labels.edge == true"]);
      assert.equal((e.inputs.updateConfig as Inputs).order, "stop-first");
      const caddy = run.byType(CONFIG).find((c) => c.name === "platform-config-edge-caddyfile");
      assert.ok(caddy);
      assert.match(Buffer.from(caddy.inputs.data as string, "base64").toString("utf8"), /header_up X-Real-IP \{remote_host\}/);
    });

    void test("the stack outputs the exact Vault init steps", () => {
      const steps = run.outputs.vaultInitSteps as string[];
      assert.ok(!(run.outputs.vaultInitSteps instanceof SecretValue));
      assert.deepEqual(steps, vaultRunbook(run.config, buildTopology(run.config)));
    });
  });
}

void describe("the JSON plan lists the front services with their component", () => {
  const reports = new Map<string, Awaited<ReturnType<typeof planStack>>["report"]>();
  before(async () => {
    for (const stack of ["test", "prod"] as const) reports.set(stack, (await planStack(ROOT, stack)).report);
  });
  for (const stack of ["test", "prod"] as const) {
    void test(stack, () => {
      const report = reports.get(stack) ?? assert.fail(`no plan for ${stack}`);
      const components = new Map(report.services.map((s) => [s.name, s.component]));
      for (const [name, component] of [
        ["vault-1", "vault"], ["apisix", "apisix"], ["apisix-dashboard", "apisix-dashboard"], ["apisix-routes", "apisix-routes"],
        ["prometheus", "prometheus"], ["grafana", "grafana"], ["alertmanager", "alertmanager"], ["node-exporter", "node-exporter"],
        ["cadvisor", "cadvisor"], ["redis-exporter", "redis-exporter"], ["edge", "edge"],
      ] as const) {
        assert.equal(components.get(name), component, `${name} in the ${stack} plan`);
      }
      assert.equal(report.warnings.some((w) => w.startsWith("Vault runs WITHOUT TLS")), stack === "test");
    });
  }
});

void describe("the compose rendering of the plan is accepted by docker stack config", () => {
  const dir = mkdtempSync(join(tmpdir(), "front-compose-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  for (const stack of ["test", "prod"] as const) {
    void test(stack, (t) => {
      if (!requireTool(t, "docker")) return;
      const out = join(dir, stack);
      const plan = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "tools", "plan.ts"), "--stack", stack, "--format", "compose", "--out", out], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
      assert.equal(plan.status, 0, plan.stderr);
      const checked = spawnSync("docker", ["stack", "config", "-c", "docker-stack.yml"], { cwd: out, encoding: "utf8", timeout: 60_000 });
      assert.equal(checked.status, 0, checked.stderr);
      const services = (parse(checked.stdout) as { services: Record<string, { ports?: { mode: string; published: string | number }[]; deploy: { placement?: { constraints?: string[] } } }> }).services;
      for (const name of ["vault-1", "apisix", "apisix-dashboard", "apisix-routes", "prometheus", "alertmanager", "grafana", "node-exporter", "cadvisor", "redis-exporter", "edge"]) {
        assert.ok(services[name], `${name} in the ${stack} stack file`);
      }
      assert.deepEqual(services.edge.ports?.map((p) => [p.mode, String(p.published)]), [["host", "80"]]);
      // One candidate in test: pinned. Two in prod: one task on each node labelled edge=true.
      assert.deepEqual(services.edge.deploy.placement?.constraints, [stack === "test" ? `node.hostname == ${stack}-app-01` : "node.labels.edge == true"]);
    });
  }
});
