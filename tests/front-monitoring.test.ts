import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { buildTopology } from "../core/topology";
import { buildPlatform } from "../platform/assemble";
import { desiredReplicas } from "../families/monitoring/specs";
import { vaultArea } from "../families/vault";
import type { PlatformSpec } from "../core/model";
import { loadStack } from "./support/config";
import { requireTool } from "./support/tools";

function build(stack: "test" | "prod", overrides: Record<string, unknown> = {}) {
  const config = loadStack(stack, overrides);
  const topology = buildTopology(config);
  return { config, topology, platform: buildPlatform(config, topology).spec };
}

const content = (p: PlatformSpec, key: string): string => {
  const c = p.configs.find((x) => x.key === key);
  assert.ok(c, `no config ${key}`);
  return c.content;
};

const dir = mkdtempSync(join(tmpdir(), "front-monitoring-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes prometheus.yml and its rules where promtool finds them (container paths mapped into the temp dir). */
function writePrometheusFiles(stack: "test" | "prod"): { config: string; rules: string } {
  const { platform, config } = build(stack);
  const d = mkdtempSync(join(dir, `${stack}-`));
  const rules = join(d, "platform.rules.yml");
  const ca = join(d, "vault-ca.pem");
  writeFileSync(rules, content(platform, "prometheus-rules"));
  writeFileSync(ca, config.section(vaultArea).tlsCertificate);
  const cfg = join(d, "prometheus.yml");
  writeFileSync(cfg, content(platform, "prometheus-config")
    .replace("/etc/prometheus/rules/platform.rules.yml", rules)
    .replace("/run/secrets/vault-tls-certificate", ca));
  return { config: cfg, rules };
}

interface ScrapeJob { job_name: string; static_configs?: { targets: string[]; labels?: Record<string, string> }[]; dns_sd_configs?: { names: string[]; port: number }[]; scheme?: string; metrics_path?: string }

void describe("prometheus.yml per stack", () => {
  void test("prod: jobs, Swarm DNS discovery for tasks, member names for stateful members", () => {
    const { platform } = build("prod");
    const cfg = parse(content(platform, "prometheus-config")) as { global: Record<string, unknown>; scrape_configs: ScrapeJob[]; rule_files: string[]; alerting: unknown };
    assert.deepEqual(cfg.global, { scrape_interval: "15s", scrape_timeout: "10s", evaluation_interval: "15s", external_labels: { stack: "prod" } });
    assert.deepEqual(cfg.rule_files, ["/etc/prometheus/rules/platform.rules.yml"]);
    assert.deepEqual(cfg.alerting, { alertmanagers: [{ static_configs: [{ targets: ["alertmanager:9093"] }] }] });
    const jobs = Object.fromEntries(cfg.scrape_configs.map((j) => [j.job_name, j]));
    assert.deepEqual(Object.keys(jobs), ["prometheus", "alertmanager", "node-exporter", "cadvisor", "redis", "redis-sentinel", "rabbitmq", "etcd", "vault", "apisix", "edge"]);
    assert.deepEqual(jobs["node-exporter"].dns_sd_configs, [{ names: ["tasks.node-exporter"], type: "A", port: 9100, refresh_interval: "30s" }]);
    assert.deepEqual(jobs.cadvisor.dns_sd_configs?.[0].names, ["tasks.cadvisor"]);
    assert.deepEqual(jobs.apisix.dns_sd_configs?.[0], { names: ["tasks.apisix"], type: "A", port: 9091, refresh_interval: "30s" });
    assert.equal(jobs.apisix.metrics_path, "/apisix/prometheus/metrics");
    assert.deepEqual(jobs.rabbitmq.static_configs, [
      { targets: ["rabbitmq-1:15692"], labels: { member: "rabbitmq-1", node: "prod-app-01" } },
      { targets: ["rabbitmq-2:15692"], labels: { member: "rabbitmq-2", node: "prod-app-02" } },
      { targets: ["rabbitmq-3:15692"], labels: { member: "rabbitmq-3", node: "prod-app-03" } },
    ]);
    assert.deepEqual(jobs.vault, {
      job_name: "vault",
      metrics_path: "/v1/sys/metrics",
      params: { format: ["prometheus"] },
      scheme: "https",
      tls_config: { ca_file: "/run/secrets/vault-tls-certificate" },
      static_configs: [1, 2, 3].map((i) => ({ targets: [`vault-${i}:8200`], labels: { member: `vault-${i}`, node: `prod-app-0${i}` } })),
    });
    assert.deepEqual(jobs.etcd.static_configs?.map((s) => s.targets[0]), ["etcd-1:2379", "etcd-2:2379", "etcd-3:2379"]);
    assert.deepEqual(jobs.redis.static_configs?.map((s) => s.targets[0]), ["redis://redis-1:6379", "redis://redis-2:6379", "redis://redis-3:6379"]);
    assert.deepEqual(jobs["redis-sentinel"].static_configs?.map((s) => s.targets[0]), ["redis://redis-sentinel-1:26379", "redis://redis-sentinel-2:26379", "redis://redis-sentinel-3:26379"]);
  });

  void test("test: plain-HTTP Vault, one member each", () => {
    const { platform } = build("test");
    const cfg = parse(content(platform, "prometheus-config")) as { scrape_configs: ScrapeJob[] };
    const vault = cfg.scrape_configs.find((j) => j.job_name === "vault");
    assert.equal(vault?.scheme, "http");
    assert.deepEqual(vault?.static_configs, [{ targets: ["vault-1:8200"], labels: { member: "vault-1", node: "test-app-01" } }]);
  });

  void test("external etcd: no etcd job and no etcd rules (the platform does not run it)", () => {
    const { platform } = build("test", { etcdEndpoints: ["http://db-01:2379"] });
    assert.ok(!content(platform, "prometheus-config").includes("job_name: etcd"));
    assert.ok(!content(platform, "prometheus-rules").includes("Etcd"));
  });
});

void describe("promtool on the generated files", () => {
  for (const stack of ["test", "prod"] as const) {
    void test(`${stack}: promtool check config (which also checks the rule file)`, (t) => {
      if (!requireTool(t, "promtool")) return;
      const files = writePrometheusFiles(stack);
      const started = process.hrtime.bigint();
      const r = spawnSync("promtool", ["check", "config", files.config], { encoding: "utf8" });
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /SUCCESS: \d+ rules found/);
      const rules = spawnSync("promtool", ["check", "rules", files.rules], { encoding: "utf8" });
      assert.equal(rules.status, 0, rules.stdout + rules.stderr);
      process.stdout.write(`promtool check config ${stack}: ${ms.toFixed(0)} ms; ${/(\d+) rules found/.exec(rules.stdout)?.[1]} rules\n`);
    });
  }

  void test("prod: the alerts fire on the failures they name (promtool test rules)", (t) => {
    if (!requireTool(t, "promtool")) return;
    const { platform, topology } = build("prod");
    const files = writePrometheusFiles("prod");
    const desired = platform.services
      .map((s) => ({ name: s.name, n: desiredReplicas(s, topology.workloadNodes) ?? 0 }))
      .filter((d) => d.n > 0);
    // Every service at its desired count except apisix, which runs 2 of 3.
    const containers = desired.flatMap((d) => Array.from({ length: d.name === "apisix" ? d.n - 1 : d.n }, (_, i) => ({
      series: `container_last_seen{container_label_com_docker_swarm_service_name="prod_${d.name}", id="/${d.name}/${i}"}`,
      values: "1x40",
    })));
    const node = (i: number, values: string) => ({ series: `up{job="node-exporter", instance="10.0.1.${30 + i}:9100"}`, values });
    const testFile = {
      rule_files: [files.rules],
      evaluation_interval: "15s",
      tests: [
        {
          interval: "15s",
          input_series: [
            { series: 'up{job="rabbitmq", member="rabbitmq-1", node="prod-app-01"}', values: "1x40" },
            { series: 'up{job="rabbitmq", member="rabbitmq-2", node="prod-app-02"}', values: "1x4 0x36" },
            { series: 'up{job="rabbitmq", member="rabbitmq-3", node="prod-app-03"}', values: "1x40" },
            node(1, "1x40"), node(2, "1x40"), node(3, "1x4 _x36"),
            // The old master's role=master series ends with a staleness marker, as a real scrape would leave it.
            { series: 'redis_instance_info{job="redis", member="redis-1", role="master"}', values: "1x10 stale" },
            { series: 'redis_instance_info{job="redis", member="redis-2", role="master"}', values: "_x10 1x30" },
            ...containers,
          ],
          alert_rule_test: [
            {
              eval_time: "5m",
              alertname: "RabbitmqMemberDown",
              exp_alerts: [{ exp_labels: { severity: "warning", job: "rabbitmq", member: "rabbitmq-2", node: "prod-app-02" }, exp_annotations: { summary: "rabbitmq member rabbitmq-2 on prod-app-02 is down", description: "job rabbitmq: the member does not answer." } }],
            },
            {
              eval_time: "5m",
              alertname: "RabbitmqQuorumAtRisk",
              exp_alerts: [{ exp_labels: { severity: "critical" }, exp_annotations: { summary: "rabbitmq: 2 of 3 members up; losing one more costs the quorum (2)" } }],
            },
            { eval_time: "5m", alertname: "RabbitmqQuorumLost", exp_alerts: [] },
            {
              // The last sample of the vanished node is still visible for the 5 min lookback, then 2 min "for".
              eval_time: "9m",
              alertname: "NodeDown",
              exp_alerts: [{ exp_labels: { severity: "critical" }, exp_annotations: { summary: "2 of 3 workload nodes (prod-app-01, prod-app-02, prod-app-03) report metrics" } }],
            },
            {
              eval_time: "5m",
              alertname: "RedisSentinelFailover",
              exp_alerts: [{ exp_labels: { severity: "warning" }, exp_annotations: { summary: "Sentinel failed the Redis master over in the last 10 minutes" } }],
            },
            { eval_time: "5m", alertname: "RedisNoSingleMaster", exp_alerts: [] },
            {
              eval_time: "8m",
              alertname: "SwarmServiceBelowDesiredReplicas",
              exp_alerts: [{ exp_labels: { severity: "warning", service: "apisix" }, exp_annotations: { summary: "service apisix runs fewer tasks than its 3 desired" } }],
            },
          ],
        },
      ],
    };
    const path = join(dir, "alerts.test.yml");
    writeFileSync(path, stringify(testFile));
    const r = spawnSync("promtool", ["test", "rules", path], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS/);
  });
});

void describe("alert rules cover what the issue names", () => {
  void test("prod rule names", () => {
    const { platform } = build("prod");
    const groups = (parse(content(platform, "prometheus-rules")) as { groups: { name: string; rules: { alert?: string; record?: string; labels?: Record<string, string>; expr: string }[] }[] }).groups;
    assert.deepEqual(groups.map((g) => [g.name, g.rules.filter((r) => r.alert).map((r) => r.alert)]), [
      ["nodes", ["NodeDown", "NodeExporterDown", "DiskFillingUp", "DiskAlmostFull"]],
      ["redis", ["RedisMemberDown", "RedisQuorumAtRisk", "RedisQuorumLost", "RedisNoSingleMaster", "RedisSentinelFailover", "RedisSentinelDown", "RedisSentinelQuorumAtRisk"]],
      ["rabbitmq", ["RabbitmqMemberDown", "RabbitmqQuorumAtRisk", "RabbitmqQuorumLost"]],
      ["etcd", ["EtcdMemberDown", "EtcdQuorumAtRisk", "EtcdQuorumLost", "EtcdNoLeader"]],
      ["vault", ["VaultMemberDown", "VaultQuorumAtRisk", "VaultQuorumLost", "VaultSealed"]],
      ["swarm-services", ["SwarmServiceBelowDesiredReplicas"]],
    ]);
    const desired = groups[5].rules.filter((r) => r.record === "swarm_service:desired_replicas");
    const of = (name: string) => desired.find((r) => r.labels?.service === name)?.expr;
    assert.equal(of("apisix"), "vector(3)");
    assert.equal(of("vault-2"), "vector(1)");
    // Global services run on the 3 active workers; the drained managers take none.
    assert.equal(of("node-exporter"), "vector(3)");
    assert.equal(of("cadvisor"), "vector(3)");
    assert.equal(of("prometheus"), "vector(1)");
  });

  void test("test: single members have no quorum alerts (there is no quorum to lose)", () => {
    const rules = content(build("test").platform, "prometheus-rules");
    assert.ok(rules.includes("VaultMemberDown"));
    assert.ok(!rules.includes("QuorumAtRisk"));
    assert.match(rules, /< 3\n/, "test has three workload nodes (the manager takes workloads)");
  });
});

void describe("Alertmanager and Grafana files", () => {
  void test("alertmanager.yml: webhook URL read from a secret file, never inline", () => {
    const { platform } = build("prod", { alertWebhookUrl: "https://hooks.example.com/t/abc123" });
    const am = parse(content(platform, "alertmanager-config")) as { receivers: unknown[]; route: Record<string, unknown> };
    assert.deepEqual(am.receivers, [{ name: "platform", webhook_configs: [{ url_file: "/run/secrets/alert-webhook-url", send_resolved: true }] }]);
    assert.equal(am.route.receiver, "platform");
    assert.ok(!JSON.stringify(platform).includes("abc123"));
    assert.deepEqual(platform.secrets.find((s) => s.key === "alert-webhook-url")?.source, { kind: "setting", setting: "alertWebhookUrl" });
    assert.deepEqual(platform.services.find((s) => s.name === "alertmanager")?.secrets, [{ key: "alert-webhook-url", target: "/run/secrets/alert-webhook-url", mode: 0o400, uid: "65534", gid: "65534" }]);
  });

  void test("alertmanager.yml without a webhook: a receiver with no integration", () => {
    const am = parse(content(build("test").platform, "alertmanager-config")) as { receivers: unknown[] };
    assert.deepEqual(am.receivers, [{ name: "platform" }]);
  });

  void test("Grafana: Prometheus data source and the platform dashboard provisioned from repo files; password via __FILE", () => {
    const { platform } = build("prod");
    assert.deepEqual(parse(content(platform, "grafana-datasources")), {
      apiVersion: 1,
      datasources: [{ name: "Prometheus", uid: "prometheus", type: "prometheus", access: "proxy", url: "http://prometheus:9090", isDefault: true, editable: false, jsonData: { timeInterval: "15s" } }],
    });
    assert.deepEqual(parse(content(platform, "grafana-dashboards")), {
      apiVersion: 1,
      providers: [{ name: "platform", folder: "Platform", type: "file", disableDeletion: true, allowUiUpdates: false, options: { path: "/etc/grafana/dashboards" } }],
    });
    const dashboard = JSON.parse(content(platform, "grafana-platform-dashboard")) as { uid: string; panels: { datasource: { uid: string }; targets: { expr: string }[] }[] };
    assert.equal(content(platform, "grafana-platform-dashboard"), readFileSync(join(__dirname, "..", "families", "monitoring", "files", "grafana-platform-dashboard.json"), "utf8"));
    assert.equal(dashboard.uid, "swarm-platform");
    assert.ok(dashboard.panels.length >= 10);
    for (const p of dashboard.panels) assert.equal(p.datasource.uid, "prometheus");
    const grafana = platform.services.find((s) => s.name === "grafana");
    assert.ok(grafana);
    assert.equal(grafana.env.GF_SECURITY_ADMIN_PASSWORD__FILE, "/run/secrets/grafana-admin-password");
    assert.ok(!Object.keys(grafana.env).includes("GF_SECURITY_ADMIN_PASSWORD"));
    assert.deepEqual(grafana.mounts, [{ type: "bind", source: "/mnt/storagebox/grafana/data", target: "/var/lib/grafana", readOnly: false }]);
    assert.deepEqual(grafana.placement.constraints, ["node.labels.type == service"]);
    assert.equal(grafana.update.order, "stop-first");
  });
});

void describe("monitoring services", () => {
  void test("prod: Prometheus pinned to prod-app-03 with its TSDB on a local volume there, nothing published", () => {
    const { platform } = build("prod");
    const prom = platform.services.find((s) => s.name === "prometheus");
    assert.ok(prom);
    assert.deepEqual(prom.placement.constraints, ["node.hostname == prod-app-03"]);
    assert.deepEqual(prom.mounts, [{ type: "volume", source: "prometheus-data", target: "/prometheus", readOnly: false }]);
    assert.deepEqual(platform.volumes.find((v) => v.key === "prometheus-data"), { key: "prometheus-data", name: "prod_prometheus-data", driver: "local", labels: { "swarm-platform.stack": "prod", "swarm-platform.component": "prometheus" }, node: "prod-app-03" });
    assert.ok(prom.command?.includes("--storage.tsdb.retention.time=30d"));
    assert.ok(prom.command?.includes("--storage.tsdb.retention.size=40GB"));
    assert.equal(prom.update.order, "stop-first");
    for (const s of platform.services.filter((x) => ["prometheus", "alertmanager", "grafana", "node-exporter", "cadvisor", "redis-exporter"].includes(x.component))) {
      assert.deepEqual(s.ports, [], `${s.name} publishes nothing`);
    }
    assert.deepEqual(platform.services.filter((s) => "global" in s.mode).map((s) => s.name), ["node-exporter", "cadvisor"]);
  });

  void test("test: Grafana on a volume pinned with Prometheus on test-app-02", () => {
    const { platform } = build("test");
    const grafana = platform.services.find((s) => s.name === "grafana");
    assert.deepEqual(grafana?.placement.constraints, ["node.hostname == test-app-02"]);
    assert.deepEqual(grafana?.mounts, [{ type: "volume", source: "grafana-data", target: "/var/lib/grafana", readOnly: false }]);
  });
});
