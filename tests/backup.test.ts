/**
 * The backup family: its settings' errors name their keys; the runner it declares
 * (placement, secrets as files only, the plan its script reads, the sources each
 * family contributes); the restore commands it prints; its alerts, evaluated by
 * promtool against series; its script, checked by shellcheck; and the failure
 * analysis' word on what is at risk when every member is gone.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { platformOf, problemsOf, loadStack } from "./support/config";
import { requireTool } from "./support/tools";
import { partOutputs } from "../platform/outputs";
import { analyseFailures } from "../analysis/failure";
import { stringify } from "yaml";

const yamlText = (v: unknown): string => stringify(v, { lineWidth: 0 });

const HOST_KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const SFTP = {
  backupRepository: "sftp:u123456@u123456.your-storagebox.de:/backups/prod",
  backupSftpKnownHosts: `[u123456.your-storagebox.de]:23 ssh-ed25519 ${HOST_KEY}`,
};
const S3 = { backupRepository: "s3:https://fsn1.your-objectstorage.com/acme-backups/prod" };

function keysOf(overrides: Record<string, unknown>, stack: "test" | "prod" = "prod"): string[] {
  return problemsOf(() => loadStack(stack, overrides)).problems.map((p) => p.key);
}

void describe("backup settings: a bad target or retention names its key", () => {
  void test("a repository that is neither sftp: nor s3:", () => {
    const e = problemsOf(() => loadStack("prod", { backupRepository: "ftp://example.com/backups" }));
    assert.deepEqual(e.problems.map((p) => p.key), ["backupRepository"]);
    assert.match(e.message, /sftp:<user>@<host>:\/<path>/);
    assert.match(e.message, /s3:https:\/\/<endpoint>\/<bucket>/);
  });
  void test("an s3 repository over plain http is refused", () => {
    assert.deepEqual(keysOf({ backupRepository: "s3:http://fsn1.your-objectstorage.com/acme" }), ["backupRepository"]);
  });
  void test("sftp without a pinned host key, or with the key of another host", () => {
    assert.deepEqual(keysOf({ backupRepository: SFTP.backupRepository }), ["backupSftpKnownHosts"]);
    const e = problemsOf(() => loadStack("prod", { ...SFTP, backupSftpKnownHosts: `other.example.com ssh-ed25519 ${HOST_KEY}` }));
    assert.deepEqual(e.problems.map((p) => p.key), ["backupSftpKnownHosts"]);
    assert.match(e.message, /\[u123456\.your-storagebox\.de\]:23/);
  });
  void test("sftp without a key, s3 without credentials, any target without a password", () => {
    assert.deepEqual(keysOf({ ...SFTP, backupSftpPrivateKey: "" }), ["backupSftpPrivateKey"]);
    assert.deepEqual(keysOf({ ...S3, backupS3AccessKeyId: "", backupS3SecretAccessKey: "" }), ["backupS3AccessKeyId", "backupS3SecretAccessKey"]);
    const e = problemsOf(() => loadStack("prod", { ...S3, backupPassword: "" }));
    assert.deepEqual(e.problems.map((p) => p.key), ["backupPassword"]);
    assert.match(e.message, /pulumi config set --secret backupPassword/);
  });
  void test("a short repository password", () => {
    assert.deepEqual(keysOf({ ...S3, backupPassword: "short" }), ["backupPassword"]);
  });
  void test("retention that keeps nothing, and out-of-range counts and intervals", () => {
    assert.deepEqual(keysOf({ ...S3, backupKeepDaily: 0, backupKeepWeekly: 0, backupKeepMonthly: 0 }), ["backupKeepDaily"]);
    assert.deepEqual(keysOf({ backupKeepDaily: -1 }), ["backupKeepDaily"]);
    assert.deepEqual(keysOf({ backupInterval: "5m" }), ["backupInterval"]);
    assert.deepEqual(keysOf({ backupInterval: "1d" }), ["backupInterval"]);
  });
  void test("backups off: no target settings are required, and a prod plan warns", () => {
    const p = platformOf("prod");
    assert.equal(p.platform.services.some((s) => s.name === "backup"), false);
    const part = p.assembled.parts.find((x) => x.family === "backup");
    assert.match(part?.warnings?.join("\n") ?? "", /No backups: backupRepository is empty/);
    assert.deepEqual(part?.scrapeJobs, []);
    assert.deepEqual(platformOf("test").assembled.parts.find((x) => x.family === "backup")?.warnings, []);
  });
});

void describe("the backup runner", () => {
  const p = platformOf("prod", SFTP);
  const runner = p.service("backup");
  const conf = JSON.parse(p.configContent("backup-conf")) as Record<string, unknown> & { sources: { source: string; method: Record<string, unknown> }[] };

  void test("one replicated task pinned to a node, its script from a config, its state on tmpfs and a work volume", () => {
    assert.deepEqual(runner.mode, { replicas: 1 });
    assert.deepEqual(runner.command, ["/platform/backup.sh", "serve"]);
    assert.equal(runner.node, p.topology.workloadNodes.find((n) => n.labels.type === "service")?.name);
    assert.deepEqual(runner.placement.constraints, [`node.hostname == ${runner.node}`]);
    assert.deepEqual(runner.configs.map((c) => [c.target, c.mode]), [["/platform/backup.json", 0o444], ["/platform/backup.sh", 0o555]]);
    assert.deepEqual(runner.mounts.map((m) => [m.type, m.target]), [["tmpfs", "/run/backup"], ["volume", "/var/lib/backup"], ["bind", "/sources/grafana"]]);
    assert.equal(runner.mounts[2].source, "/mnt/storagebox/grafana/data");
  });

  void test("secrets reach it as files only: none in its environment, its command or its config", () => {
    assert.deepEqual(runner.env, {});
    assert.deepEqual(runner.secrets.map((s) => [s.key, s.target, s.mode]), [
      ["backup-password", "/run/secrets/backup-password", 0o400],
      ["backup-sftp-key", "/run/secrets/backup-sftp-key", 0o400],
      ["redis-password", "/run/secrets/redis-password", 0o400],
      ["rabbitmq-admin-password", "/run/secrets/rabbitmq-admin-password", 0o400],
      ["etcd-root-password", "/run/secrets/etcd-root-password", 0o400],
    ]);
    const declared = p.platform.secrets.filter((s) => s.key.startsWith("backup-"));
    assert.deepEqual(declared.map((s) => [s.key, s.source]), [
      ["backup-password", { kind: "setting", setting: "backupPassword" }],
      ["backup-sftp-key", { kind: "setting", setting: "backupSftpPrivateKey" }],
    ]);
    const content = p.configContent("backup-conf");
    for (const setting of ["backupPassword", "backupSftpPrivateKey"]) assert.equal(content.includes(p.config.secretSettings[setting]), false, setting);
  });

  void test("the plan its script reads: target, schedule, retention, and each family's source", () => {
    const { sources, ...rest } = conf;
    assert.deepEqual(rest, {
      repository: SFTP.backupRepository,
      passwordSecret: "backup-password",
      target: { kind: "sftp", user: "u123456", host: "u123456.your-storagebox.de", port: 23, knownHosts: SFTP.backupSftpKnownHosts, keySecret: "backup-sftp-key" },
      intervalSeconds: 21600,
      keep: { last: 0, hourly: 0, daily: 7, weekly: 4, monthly: 6 },
      metricsPort: 9798,
      sourcesRoot: "/sources",
    });
    assert.deepEqual(sources, [
      { source: "redis", method: { kind: "redis-rdb", members: ["redis-1:6379", "redis-2:6379", "redis-3:6379"], user: "admin", passwordSecret: "redis-password" } },
      {
        source: "rabbitmq",
        file: "rabbitmq.dump",
        method: {
          kind: "http", baseUrl: "http://rabbitmq-1:15672", dumpPath: "/api/definitions", restorePath: "/api/definitions", contentType: "application/json",
          auth: { basicUser: (partOutputs(p.assembled).plain.rabbitmq as { adminUser: string }).adminUser, passwordSecret: "rabbitmq-admin-password" },
        },
      },
      { source: "etcd", method: { kind: "etcd-snapshot", endpoints: ["http://etcd-1:2379", "http://etcd-2:2379", "http://etcd-3:2379"], user: "root", passwordSecret: "etcd-root-password" } },
      { source: "grafana", method: { kind: "sqlite", source: { hostPath: "/mnt/storagebox/grafana/data" }, file: "grafana.db", service: "grafana" } },
    ]);
  });

  void test("it reaches the off-site repository, every source's network, and Prometheus reaches it", () => {
    // backend is internal (no route out): the platform network carries the traffic to the repository.
    assert.equal(p.platform.networks.find((n) => n.key === "platform")?.internal, false);
    assert.equal(p.platform.networks.find((n) => n.key === "backend")?.internal, true);
    assert.deepEqual(runner.networks.map((n) => n.key), ["platform", "backend", "etcd"]);
    const part = p.assembled.parts.find((x) => x.family === "backup");
    assert.deepEqual(part?.scrapeJobs.map((j) => j.config), [{ job_name: "backup", static_configs: [{ targets: ["backup:9798"], labels: { node: runner.node } }] }]);
    const rules = p.configContent("prometheus-rules");
    for (const alert of ["BackupFailed", "BackupTooOld", "BackupRunnerSilent"]) assert.match(rules, new RegExp(`alert: ${alert}`));
    assert.match(p.configContent("prometheus-config"), /job_name: backup/);
  });

  void test("Vault is kept only with an operator token, Prometheus only when asked", () => {
    assert.deepEqual((partOutputs(p.assembled).plain.backup as { skipped: unknown }).skipped, [
      { source: "vault", why: "backupVaultToken is not set" },
      { source: "prometheus", why: "backupPrometheus is false" },
    ]);
    const withVault = platformOf("prod", { ...SFTP, backupVaultToken: "hvs.operator-token-for-snapshots", backupPrometheus: true });
    const c = JSON.parse(withVault.configContent("backup-conf")) as { sources: { source: string; method: Record<string, unknown> }[] };
    assert.deepEqual(c.sources.map((s) => s.source), ["redis", "rabbitmq", "etcd", "vault", "grafana", "prometheus"]);
    assert.deepEqual(c.sources.find((s) => s.source === "vault")?.method, {
      kind: "http", baseUrl: "https://vault-1:8200", dumpPath: "/v1/sys/storage/raft/snapshot", restorePath: "/v1/sys/storage/raft/snapshot-force",
      contentType: "application/octet-stream", auth: { tokenSecret: "backup-vault-token" }, caSecret: "vault-tls-certificate",
    });
    assert.deepEqual(withVault.platform.secrets.find((s) => s.key === "backup-vault-token")?.source, { kind: "setting", setting: "backupVaultToken" });
    assert.ok(withVault.service("backup").secrets.some((s) => s.key === "backup-vault-token" && s.target === "/run/secrets/backup-vault-token"));
    // Prometheus' TSDB is a volume of the monitoring node: the runner moves there to mount it.
    const r = withVault.service("backup");
    assert.ok(r.mounts.some((m) => m.type === "volume" && m.source === "prometheus-data" && m.target === "/sources/prometheus"));
    assert.equal(r.node, withVault.service("prometheus").node);
  });

  void test("an S3 target: the two keys are secrets, rendered into a credentials file on tmpfs by the script", () => {
    const s3 = platformOf("prod", S3);
    assert.deepEqual(s3.service("backup").secrets.map((s) => s.key).slice(0, 3), ["backup-password", "backup-s3-access-key-id", "backup-s3-secret-access-key"]);
    assert.deepEqual((JSON.parse(s3.configContent("backup-conf")) as { target: unknown }).target, {
      kind: "s3", accessKeySecret: "backup-s3-access-key-id", secretKeySecret: "backup-s3-secret-access-key",
    });
  });

  void test("the stack output prints the exact restore command of each source", () => {
    const out = partOutputs(p.assembled).plain.backupRestoreCommands as Record<string, string>;
    const exec = (s: string) => `ssh ${runner.node} 'docker exec $(docker ps -q -f label=com.docker.swarm.service.name=prod_backup) /platform/backup.sh restore ${s} latest'`;
    const manager = p.topology.managers[0].name;
    assert.deepEqual(out, {
      redis: exec("redis"),
      rabbitmq: exec("rabbitmq"),
      etcd: exec("etcd"),
      grafana: `ssh ${manager} docker service scale prod_grafana=0 && ${exec("grafana")} && ssh ${manager} docker service scale prod_grafana=1`,
    });
  });
});

void describe("what monitoring does with the runner's metrics (promtool test rules)", () => {
  void test("BackupFailed on a failed run; BackupTooOld after twice the interval, for a source never backed up too", (t) => {
    if (!requireTool(t, "promtool")) return;
    const p = platformOf("prod", { ...SFTP, backupInterval: "1h" });
    const group = p.assembled.parts.find((x) => x.family === "backup")?.alertRules[0];
    const dir = mkdtempSync(join(tmpdir(), "backup-rules-"));
    try {
      writeFileSync(join(dir, "rules.yml"), yamlText({ groups: [group] }));
      // One sample a minute; the interval is 1h, so "too old" is older than 7200 s.
      writeFileSync(join(dir, "test.yml"), yamlText({
        rule_files: ["rules.yml"],
        evaluation_interval: "1m",
        tests: [{
          interval: "1m",
          input_series: [
            { series: 'backup_last_run_success{job="backup",source="redis"}', values: "1x200" },
            { series: 'backup_last_success_timestamp_seconds{job="backup",source="redis"}', values: "0x200" },
            { series: 'backup_last_run_success{job="backup",source="etcd"}', values: "1x100 0x100" },
            { series: 'backup_last_success_timestamp_seconds{job="backup",source="etcd"}', values: "0+60x200" },
            { series: 'backup_last_run_success{job="backup",source="vault"}', values: "0x200" },
            { series: 'backup_last_run_timestamp_seconds{job="backup",source="vault"}', values: "0+60x200" },
            { series: 'backup_runner_start_timestamp_seconds{job="backup"}', values: "0x200" },
            { series: 'up{job="backup"}', values: "1x200" },
          ],
          alert_rule_test: [
            { eval_time: "100m", alertname: "BackupTooOld", exp_alerts: [] },
            { eval_time: "100m", alertname: "BackupFailed", exp_alerts: [{ exp_labels: { severity: "critical", job: "backup", source: "vault" }, exp_annotations: { summary: "The last backup of vault failed: `docker service logs <prefix>_backup` (docs/backup.md)" } }] },
            {
              eval_time: "130m",
              alertname: "BackupTooOld",
              exp_alerts: [
                { exp_labels: { severity: "critical", source: "redis" }, exp_annotations: { summary: "The last good backup of redis is older than twice backupInterval (1h)" } },
                { exp_labels: { severity: "critical", job: "backup", source: "vault" }, exp_annotations: { summary: "The last good backup of vault is older than twice backupInterval (1h)" } },
              ],
            },
            { eval_time: "130m", alertname: "BackupRunnerSilent", exp_alerts: [] },
          ],
        }],
      }));
      const r = spawnSync("promtool", ["test", "rules", join(dir, "test.yml")], { encoding: "utf8" });
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

void test("the runner script passes shellcheck", (t) => {
  if (!requireTool(t, "shellcheck")) return;
  const r = spawnSync("shellcheck", ["-s", "sh", join(__dirname, "..", "families", "backup", "files", "backup.sh")], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout);
});

void test("failure analysis: losing every member puts what was written since the last backup at risk", () => {
  const p = platformOf("test", S3);
  const report = analyseFailures(p.config, p.topology, p.assembled);
  const location = report.find((d) => d.kind === "location");
  assert.ok(location);
  assert.ok(location.dataAtRisk.includes("redis: every member is down; if the nodes do not return, what was written since its last backup is lost (stack output backup, backupRestoreCommands)"), location.dataAtRisk.join("\n"));
  const prod = platformOf("prod", S3);
  // In prod only the single-member services on one node lose every member with it.
  assert.deepEqual([...new Set(analyseFailures(prod.config, prod.topology, prod.assembled).filter((d) => d.kind === "node").flatMap((d) => d.dataAtRisk))], [
    // The edge runs on two candidates in prod (its certificates on the Storage Box), so no single node takes it.
    "alertmanager: every member is down; if the nodes do not return, its data is lost (no backup source)",
    "prometheus: every member is down; if the nodes do not return, what was written since its last backup (backed up only with backupPrometheus) is lost (stack output backup, backupRestoreCommands)",
  ]);
});
