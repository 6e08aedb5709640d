/**
 * Monitoring: Prometheus (one replica pinned to the monitoring node, TSDB on a
 * local volume there, never on the shared StorageBox mount), Alertmanager,
 * Grafana, and the exporters: node-exporter and cAdvisor on every node, one
 * Redis exporter for every Redis member and Sentinel. Nothing is published;
 * the README shows the SSH tunnel.
 *
 * Targets come from Swarm's own service discovery, its DNS: `tasks.<service>`
 * lists the tasks of replicated and global services. Stateful members are
 * scraped by their stable names, so a dead member stays a target and shows
 * `up == 0` instead of silently leaving the list.
 */
import { yamlDocument } from "../lib/yaml";
import type { NodeSpec } from "../core/topology";
import { majority, pinTo, SERVICE_NODE_CONSTRAINT } from "../core/placement";
import type { SpecContext } from "./context";
import { platformLabels } from "./context";
import { configSpec, EMPTY_PLATFORM, GiB, MiB, rollbackOf, STATEFUL_UPDATE, STATELESS_UPDATE, type PlatformSpec, type SecretSpec, type ServiceSpec, type VolumeSpec } from "./model";
import { NET } from "./networks";
import { specFile, type Member } from "./stateful";
import { REDIS_EXPORTER_PORT, REDIS_PORT, SENTINEL_PORT, redisMembers, sentinelMembers } from "./redis";
import { rabbitmqMembers, RABBITMQ_PORTS } from "./rabbitmq";
import { etcdMembers, ETCD_CLIENT_PORT } from "./etcd";
import { vaultMembers, VAULT_API_PORT, VAULT_TLS_CERT_PATH } from "./vault";
import { APISIX_METRICS_PORT } from "./apisix";
import { attach, EDGE_STATUS_PORT, frontDefaults, frontImage } from "./edge";

export const PORTS = {
  prometheus: 9090,
  alertmanager: 9093,
  grafana: 3000,
  nodeExporter: 9100,
  cadvisor: 8080,
  redisExporter: REDIS_EXPORTER_PORT,
} as const;

const PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml";
const PROMETHEUS_RULES = "/etc/prometheus/rules/platform.rules.yml";
const ALERTMANAGER_CONFIG = "/etc/alertmanager/alertmanager.yml";
const ALERT_WEBHOOK_SECRET = "alert-webhook-url";
const GRAFANA_PASSWORD_SECRET = "grafana-admin-password";
/** prom/prometheus and prom/alertmanager run as nobody. */
const NOBODY = "65534";

const scrapeInterval = "15s";

/** The monitoring node (validated in the config). */
export function monitoringNode(ctx: SpecContext): NodeSpec {
  const node = ctx.topology.nodes.find((n) => n.name === ctx.config.front.monitoring.node);
  if (!node) throw new Error(`monitoring node ${ctx.config.front.monitoring.node} is not in the topology (the config validation should have caught this)`);
  return node;
}

const hostPort = (host: string, port: number): string => `${host}:${port}`;
const memberTargets = (list: readonly Member[], port: number): { targets: string[]; labels: Record<string, string> }[] =>
  list.map((m) => ({ targets: [hostPort(m.name, port)], labels: { member: m.name, node: m.node.name } }));

/** Redis exporter multi-target scrape: the target is passed as ?target=redis://..., the exporter's address replaces it. */
function redisExporterJob(job: string, list: readonly Member[], port: number): Record<string, unknown> {
  return {
    job_name: job,
    metrics_path: "/scrape",
    static_configs: list.map((m) => ({ targets: [`redis://${m.name}:${port}`], labels: { member: m.name, node: m.node.name } })),
    relabel_configs: [
      { source_labels: ["__address__"], target_label: "__param_target" },
      { source_labels: ["__address__"], regex: "redis://(.+)", target_label: "instance", replacement: "$1" },
      { target_label: "__address__", replacement: hostPort("redis-exporter", PORTS.redisExporter) },
    ],
  };
}

/** prometheus.yml of this stack. */
export function prometheusConfig(ctx: SpecContext): Record<string, unknown> {
  const { config, topology } = ctx;
  const dns = (service: string, port: number): Record<string, unknown>[] => [{ names: [`tasks.${service}`], type: "A", port, refresh_interval: "30s" }];
  const vault = vaultMembers(config, topology);
  const etcd = etcdMembers(ctx);
  // Monitoring's own jobs first, then each family's in registry order: redis, rabbitmq, etcd, vault, apisix, edge.
  const jobs: Record<string, unknown>[] = [
    { job_name: "prometheus", static_configs: [{ targets: [hostPort("localhost", PORTS.prometheus)] }] },
    { job_name: "alertmanager", static_configs: [{ targets: [hostPort("alertmanager", PORTS.alertmanager)] }] },
    { job_name: "node-exporter", dns_sd_configs: dns("node-exporter", PORTS.nodeExporter) },
    { job_name: "cadvisor", dns_sd_configs: dns("cadvisor", PORTS.cadvisor) },
    redisExporterJob("redis", redisMembers(ctx), REDIS_PORT),
    redisExporterJob("redis-sentinel", sentinelMembers(ctx), SENTINEL_PORT),
    // The rabbitmq_prometheus plugin on every member.
    { job_name: "rabbitmq", static_configs: memberTargets(rabbitmqMembers(ctx), RABBITMQ_PORTS.prometheus) },
    ...(etcd.length > 0 ? [{ job_name: "etcd", static_configs: memberTargets(etcd, ETCD_CLIENT_PORT) }] : []),
    {
      job_name: "vault",
      metrics_path: "/v1/sys/metrics",
      params: { format: ["prometheus"] },
      scheme: config.front.vault.tls ? "https" : "http",
      // The certificate names every member; the chain file doubles as the trust anchor.
      ...(config.front.vault.tls ? { tls_config: { ca_file: VAULT_TLS_CERT_PATH } } : {}),
      static_configs: memberTargets(vault, VAULT_API_PORT),
    },
    { job_name: "apisix", metrics_path: "/apisix/prometheus/metrics", dns_sd_configs: dns("apisix", APISIX_METRICS_PORT) },
    { job_name: "edge", static_configs: [{ targets: [hostPort("edge", EDGE_STATUS_PORT)], labels: { node: topology.edge.name } }] },
  ];
  return {
    global: {
      scrape_interval: scrapeInterval,
      scrape_timeout: "10s",
      evaluation_interval: scrapeInterval,
      external_labels: { stack: config.stack },
    },
    rule_files: [PROMETHEUS_RULES],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [hostPort("alertmanager", PORTS.alertmanager)] }] }] },
    scrape_configs: jobs,
  };
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Member-down and quorum alerts of a family of n voters scraped under `job`. */
function quorumRules(family: string, job: string, n: number, upExpr: string): Rule[] {
  const title = family[0].toUpperCase() + family.slice(1);
  const rules: Rule[] = [{
    alert: `${title}MemberDown`,
    expr: `${upExpr} == 0`,
    for: "1m",
    labels: { severity: "warning" },
    annotations: { summary: `${family} member {{ $labels.member }} on {{ $labels.node }} is down`, description: `job ${job}: the member does not answer.` },
  }];
  if (n > 1) {
    const up = `(count(${upExpr} == 1) or vector(0))`;
    rules.push({
      alert: `${title}QuorumAtRisk`,
      expr: `${up} <= ${majority(n)}`,
      for: "1m",
      labels: { severity: "critical" },
      annotations: { summary: `${family}: {{ $value }} of ${n} members up; losing one more costs the quorum (${majority(n)})` },
    });
    rules.push({
      alert: `${title}QuorumLost`,
      expr: `${up} < ${majority(n)}`,
      for: "30s",
      labels: { severity: "critical" },
      annotations: { summary: `${family}: {{ $value }} of ${n} members up, below the quorum of ${majority(n)}` },
    });
  }
  return rules;
}

/** Desired task count of a service as Swarm will schedule it, or undefined when its constraints are beyond this simple matcher. */
export function desiredReplicas(service: ServiceSpec, nodes: readonly NodeSpec[]): number | undefined {
  if ("replicas" in service.mode) return service.mode.replicas;
  let eligible = [...nodes];
  for (const c of service.placement.constraints) {
    const m = /^node\.(hostname|role|labels\.([A-Za-z0-9_.-]+))\s*(==|!=)\s*(\S+)$/.exec(c);
    if (!m) return undefined;
    const value = (n: NodeSpec): string | undefined => (m[1] === "hostname" ? n.name : m[1] === "role" ? n.role : n.labels[m[2]]);
    eligible = eligible.filter((n) => (m[3] === "==" ? value(n) === m[4] : value(n) !== m[4]));
  }
  return eligible.length;
}

/** Services of the rest of the platform (the other builders), for the replica alert. */
function otherServices(ctx: SpecContext): readonly ServiceSpec[] {
  // Required here, not at the top: platform.ts lists this module's builder, so a static import would be a cycle at load time.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { BUILDERS } = require("./platform") as typeof import("./platform");
  return BUILDERS.filter((b) => b !== monitoringSpecs).flatMap((b) => b(ctx).services);
}

/** Alert and recording rules of this stack. */
export function alertRules(ctx: SpecContext, services: readonly ServiceSpec[]): Record<string, unknown> {
  const { config, topology } = ctx;
  const redis = config.data.redis;
  const nodes = topology.workloadNodes;
  const nodeRules: Rule[] = [
    {
      alert: "NodeDown",
      // A node that is gone takes its node-exporter task out of DNS; counting against the topology catches it.
      expr: `(count(up{job="node-exporter"} == 1) or vector(0)) < ${nodes.length}`,
      for: "2m",
      labels: { severity: "critical" },
      annotations: { summary: `{{ $value }} of ${nodes.length} workload nodes (${nodes.map((n) => n.name).join(", ")}) report metrics` },
    },
    {
      alert: "NodeExporterDown",
      expr: 'up{job="node-exporter"} == 0',
      for: "2m",
      labels: { severity: "warning" },
      annotations: { summary: "node-exporter at {{ $labels.instance }} does not answer" },
    },
    {
      alert: "DiskFillingUp",
      expr: 'predict_linear(node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs|nsfs"}[6h], 24 * 3600) < 0 and node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs|nsfs"} / node_filesystem_size_bytes < 0.4',
      for: "30m",
      labels: { severity: "warning" },
      annotations: { summary: "{{ $labels.mountpoint }} on {{ $labels.instance }} will be full within 24 hours at the current rate" },
    },
    {
      alert: "DiskAlmostFull",
      expr: 'node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs|nsfs"} / node_filesystem_size_bytes < 0.1',
      for: "10m",
      labels: { severity: "critical" },
      annotations: { summary: "{{ $labels.mountpoint }} on {{ $labels.instance }} has less than 10% free" },
    },
  ];
  const redisUp = 'redis_up{job="redis"}';
  const sentinelUp = 'redis_up{job="redis-sentinel"}';
  const redisRules: Rule[] = [
    ...quorumRules("redis", "redis", redis.members, redisUp),
    {
      alert: "RedisNoSingleMaster",
      expr: '(count(redis_instance_info{job="redis", role="master"}) or vector(0)) != 1',
      for: "1m",
      labels: { severity: "critical" },
      annotations: { summary: "{{ $value }} Redis members report role master (expected exactly one)" },
    },
    {
      alert: "RedisSentinelFailover",
      // More than one member has been master within the window: Sentinel moved the master.
      expr: 'count(count_over_time(redis_instance_info{job="redis", role="master"}[10m])) > 1',
      labels: { severity: "warning" },
      annotations: { summary: "Sentinel failed the Redis master over in the last 10 minutes" },
    },
    {
      alert: "RedisSentinelDown",
      expr: `${sentinelUp} == 0`,
      for: "1m",
      labels: { severity: "warning" },
      annotations: { summary: "Sentinel {{ $labels.member }} on {{ $labels.node }} is down" },
    },
    ...(redis.sentinels > 1 ? [{
      alert: "RedisSentinelQuorumAtRisk",
      expr: `(count(${sentinelUp} == 1) or vector(0)) <= ${redis.quorum}`,
      for: "1m",
      labels: { severity: "critical" },
      annotations: { summary: `{{ $value }} of ${redis.sentinels} Sentinels up; with fewer than ${redis.quorum} no failover can happen` },
    }] : []),
  ];
  const etcd = etcdMembers(ctx);
  const etcdRules: Rule[] = etcd.length === 0 ? [] : [
    ...quorumRules("etcd", "etcd", etcd.length, 'up{job="etcd"}'),
    {
      alert: "EtcdNoLeader",
      expr: 'etcd_server_has_leader{job="etcd"} == 0',
      for: "1m",
      labels: { severity: "critical" },
      annotations: { summary: "etcd member {{ $labels.member }} has no leader" },
    },
  ];
  const vault = config.front.vault.members;
  const vaultRules: Rule[] = [
    ...quorumRules("vault", "vault", vault, 'up{job="vault"}'),
    {
      alert: "VaultSealed",
      expr: 'vault_core_unsealed{job="vault"} == 0',
      for: "5m",
      labels: { severity: "critical" },
      annotations: { summary: "Vault member {{ $labels.member }} is sealed: unseal it (README, Vault runbook)" },
    },
  ];
  const rabbitRules = quorumRules("rabbitmq", "rabbitmq", config.data.rabbitmq.nodes, 'up{job="rabbitmq"}');

  const desired = services
    .map((s) => ({ name: s.name, replicas: desiredReplicas(s, nodes) }))
    .filter((d): d is { name: string; replicas: number } => d.replicas !== undefined && d.replicas > 0);
  const swarmRules: Rule[] = [
    ...desired.map((d) => ({ record: "swarm_service:desired_replicas", expr: `vector(${d.replicas})`, labels: { service: d.name } })),
    {
      record: "swarm_service:running_replicas",
      // Swarm names services <stack>_<name> (stack files) or <name>; both reduce to the spec's name.
      expr: 'count by (service) (label_replace(container_last_seen{container_label_com_docker_swarm_service_name!=""}, "service", "$1", "container_label_com_docker_swarm_service_name", "(?:[^_]+_)?(.+)"))',
    },
    {
      alert: "SwarmServiceBelowDesiredReplicas",
      expr: "swarm_service:desired_replicas > on(service) (swarm_service:running_replicas or on(service) (swarm_service:desired_replicas * 0))",
      for: "5m",
      labels: { severity: "warning" },
      annotations: { summary: "service {{ $labels.service }} runs fewer tasks than its {{ $value }} desired" },
    },
  ];
  return {
    groups: [
      { name: "nodes", rules: nodeRules },
      { name: "redis", rules: redisRules },
      { name: "rabbitmq", rules: rabbitRules },
      ...(etcdRules.length > 0 ? [{ name: "etcd", rules: etcdRules }] : []),
      { name: "vault", rules: vaultRules },
      { name: "swarm-services", rules: swarmRules },
    ],
  };
}

/** alertmanager.yml: one receiver, the webhook when configured (its URL read from a secret file). */
export function alertmanagerConfig(ctx: SpecContext): Record<string, unknown> {
  const webhook = ctx.config.front.monitoring.alertWebhookUrl !== "";
  return {
    route: {
      receiver: "platform",
      group_by: ["alertname", "stack"],
      group_wait: "30s",
      group_interval: "5m",
      repeat_interval: "4h",
    },
    inhibit_rules: [
      // A lost quorum says it all; the member-down and at-risk alerts of the same family would only repeat it.
      { source_matchers: ['alertname=~".+QuorumLost"'], target_matchers: ['alertname=~".+(MemberDown|QuorumAtRisk)"'], equal: ["stack"] },
    ],
    receivers: [
      webhook
        ? { name: "platform", webhook_configs: [{ url_file: `/run/secrets/${ALERT_WEBHOOK_SECRET}`, send_resolved: true }] }
        : { name: "platform" },
    ],
  };
}

export function grafanaDatasources(): Record<string, unknown> {
  return {
    apiVersion: 1,
    datasources: [{
      name: "Prometheus",
      uid: "prometheus",
      type: "prometheus",
      access: "proxy",
      url: `http://prometheus:${PORTS.prometheus}`,
      isDefault: true,
      editable: false,
      jsonData: { timeInterval: scrapeInterval },
    }],
  };
}

export function grafanaDashboardProviders(): Record<string, unknown> {
  return {
    apiVersion: 1,
    providers: [{
      name: "platform",
      folder: "Platform",
      type: "file",
      disableDeletion: true,
      allowUiUpdates: false,
      options: { path: "/etc/grafana/dashboards" },
    }],
  };
}

const yamlText = (value: unknown): string => yamlDocument("Generated by the platform program.", value);

export function monitoringSpecs(ctx: SpecContext): PlatformSpec {
  const { config, prefix } = ctx;
  const mon = config.front.monitoring;
  const node = monitoringNode(ctx);
  const labels = (component: string): Record<string, string> => platformLabels(ctx, component);
  const onMonitoringNode = { constraints: [pinTo(node)], spread: [] };
  const stateful = { update: STATEFUL_UPDATE, rollback: rollbackOf(STATEFUL_UPDATE) };
  const stateless = { update: STATELESS_UPDATE, rollback: rollbackOf(STATELESS_UPDATE) };

  const prom = configSpec(prefix, "prometheus-config", yamlText(prometheusConfig(ctx)));
  const am = configSpec(prefix, "alertmanager-config", yamlText(alertmanagerConfig(ctx)));
  const datasources = configSpec(prefix, "grafana-datasources", yamlText(grafanaDatasources()));
  const providers = configSpec(prefix, "grafana-dashboards", yamlText(grafanaDashboardProviders()));
  const dashboard = configSpec(prefix, "grafana-platform-dashboard", specFile("front/grafana-platform-dashboard.json"));
  const secrets: SecretSpec[] = [
    { key: GRAFANA_PASSWORD_SECRET, namePrefix: `${prefix}_${GRAFANA_PASSWORD_SECRET}`, source: { kind: "random", length: 24, special: false }, description: "Grafana admin password" },
    ...(mon.alertWebhookUrl !== ""
      ? [{ key: ALERT_WEBHOOK_SECRET, namePrefix: `${prefix}_${ALERT_WEBHOOK_SECRET}`, source: { kind: "setting" as const, setting: "alertWebhookUrl" }, description: "Alertmanager webhook URL (carries a token)" }]
      : []),
  ];
  const volumes: VolumeSpec[] = [
    { key: "prometheus-data", name: `${prefix}_prometheus-data`, driver: "local", labels: labels("prometheus"), node: node.name },
    { key: "alertmanager-data", name: `${prefix}_alertmanager-data`, driver: "local", labels: labels("alertmanager"), node: node.name },
    ...(mon.grafanaDataDir === "" ? [{ key: "grafana-data", name: `${prefix}_grafana-data`, driver: "local" as const, labels: labels("grafana"), node: node.name }] : []),
  ];
  const wget = (port: number, path: string): string[] => ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${port}${path}`];

  const prometheus: ServiceSpec = {
    ...frontDefaults(ctx, "prometheus"),
    name: "prometheus",
    component: "prometheus",
    image: frontImage(ctx, "prometheus"),
    command: [
      `--config.file=${PROMETHEUS_CONFIG}`,
      "--storage.tsdb.path=/prometheus",
      `--storage.tsdb.retention.time=${mon.prometheusRetention}`,
      `--storage.tsdb.retention.size=${mon.prometheusRetentionSize}`,
      "--web.console.libraries=/usr/share/prometheus/console_libraries",
      "--web.console.templates=/usr/share/prometheus/consoles",
    ],
    mode: { replicas: 1 },
    networks: attach("prometheus", NET.backend, NET.platform),
    secrets: config.front.vault.tls ? [{ key: "vault-tls-certificate", target: VAULT_TLS_CERT_PATH, mode: 0o444, uid: NOBODY, gid: NOBODY }] : [],
    configs: [
      { key: prom.key, target: PROMETHEUS_CONFIG, mode: 0o444 },
      { key: "prometheus-rules", target: PROMETHEUS_RULES, mode: 0o444 },
    ],
    // A local volume on one node: Prometheus' WAL and compaction need a real local filesystem, not the StorageBox mount.
    mounts: [{ type: "volume", source: "prometheus-data", target: "/prometheus", readOnly: false }],
    placement: onMonitoringNode,
    node: node.name,
    resources: { limits: { cpus: 2, memoryBytes: 2 * GiB }, reservations: { cpus: 0.25, memoryBytes: 512 * MiB } },
    healthcheck: { test: wget(PORTS.prometheus, "/-/ready"), interval: "15s", timeout: "5s", retries: 3, startPeriod: "2m" },
    stopGracePeriod: "60s",
    ...stateful,
    stateful: true,
  };

  const alertmanager: ServiceSpec = {
    ...frontDefaults(ctx, "alertmanager"),
    name: "alertmanager",
    component: "alertmanager",
    image: frontImage(ctx, "alertmanager"),
    command: [
      `--config.file=${ALERTMANAGER_CONFIG}`,
      "--storage.path=/alertmanager",
      // A single instance: no gossip cluster to form.
      "--cluster.listen-address=",
    ],
    mode: { replicas: 1 },
    // The platform network has a route out, for the webhook.
    networks: attach("alertmanager", NET.backend, NET.platform),
    secrets: mon.alertWebhookUrl !== "" ? [{ key: ALERT_WEBHOOK_SECRET, target: `/run/secrets/${ALERT_WEBHOOK_SECRET}`, mode: 0o400, uid: NOBODY, gid: NOBODY }] : [],
    configs: [{ key: am.key, target: ALERTMANAGER_CONFIG, mode: 0o444 }],
    mounts: [{ type: "volume", source: "alertmanager-data", target: "/alertmanager", readOnly: false }],
    placement: onMonitoringNode,
    node: node.name,
    resources: { limits: { cpus: 0.5, memoryBytes: 128 * MiB }, reservations: { cpus: 0.02, memoryBytes: 32 * MiB } },
    healthcheck: { test: wget(PORTS.alertmanager, "/-/ready"), interval: "15s", timeout: "5s", retries: 3, startPeriod: "30s" },
    stopGracePeriod: "30s",
    ...stateful,
    stateful: true,
  };

  const sharedGrafana = mon.grafanaDataDir !== "";
  const grafana: ServiceSpec = {
    ...frontDefaults(ctx, "grafana"),
    name: "grafana",
    component: "grafana",
    image: frontImage(ctx, "grafana"),
    env: {
      GF_SECURITY_ADMIN_USER: "admin",
      // Grafana reads <option>__FILE natively: the password stays in the secret file.
      GF_SECURITY_ADMIN_PASSWORD__FILE: `/run/secrets/${GRAFANA_PASSWORD_SECRET}`,
      GF_USERS_ALLOW_SIGN_UP: "false",
      GF_AUTH_ANONYMOUS_ENABLED: "false",
      GF_ANALYTICS_REPORTING_ENABLED: "false",
      GF_ANALYTICS_CHECK_FOR_UPDATES: "false",
      GF_PATHS_DATA: "/var/lib/grafana",
    },
    mode: { replicas: 1 },
    networks: attach("grafana", NET.backend, NET.platform),
    secrets: [{ key: GRAFANA_PASSWORD_SECRET, target: `/run/secrets/${GRAFANA_PASSWORD_SECRET}`, mode: 0o400, uid: "472", gid: "0" }],
    configs: [
      { key: datasources.key, target: "/etc/grafana/provisioning/datasources/platform.yaml", mode: 0o444 },
      { key: providers.key, target: "/etc/grafana/provisioning/dashboards/platform.yaml", mode: 0o444 },
      { key: dashboard.key, target: "/etc/grafana/dashboards/platform.json", mode: 0o444 },
    ],
    mounts: [sharedGrafana
      ? { type: "bind", source: mon.grafanaDataDir, target: "/var/lib/grafana", readOnly: false }
      : { type: "volume", source: "grafana-data", target: "/var/lib/grafana", readOnly: false }],
    // On the shared StorageBox path Grafana may run on any service node; on a local volume it stays with it.
    placement: sharedGrafana ? { constraints: [SERVICE_NODE_CONSTRAINT], spread: [] } : onMonitoringNode,
    ...(sharedGrafana ? {} : { node: node.name }),
    resources: { limits: { cpus: 1, memoryBytes: 512 * MiB }, reservations: { cpus: 0.05, memoryBytes: 128 * MiB } },
    healthcheck: { test: wget(PORTS.grafana, "/api/health"), interval: "15s", timeout: "5s", retries: 3, startPeriod: "60s" },
    stopGracePeriod: "30s",
    // SQLite in the data directory: two Grafanas must never write it at once.
    ...stateful,
    stateful: !sharedGrafana,
  };

  const everyNode = { constraints: [], spread: [] };
  const nodeExporter: ServiceSpec = {
    ...frontDefaults(ctx, "node-exporter"),
    name: "node-exporter",
    component: "node-exporter",
    image: frontImage(ctx, "nodeExporter"),
    command: [
      "--path.procfs=/host/proc",
      "--path.sysfs=/host/sys",
      "--path.rootfs=/rootfs",
      "--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|run|var/lib/docker/.+)($|/)",
    ],
    // node_uname_info then carries the Swarm node name.
    hostname: "{{.Node.Hostname}}",
    mode: { global: true },
    endpointMode: "dnsrr",
    networks: attach("node-exporter", NET.backend),
    mounts: [
      { type: "bind", source: "/proc", target: "/host/proc", readOnly: true },
      { type: "bind", source: "/sys", target: "/host/sys", readOnly: true },
      { type: "bind", source: "/", target: "/rootfs", readOnly: true },
    ],
    placement: everyNode,
    resources: { limits: { cpus: 0.25, memoryBytes: 64 * MiB }, reservations: { cpus: 0.01, memoryBytes: 16 * MiB } },
    healthcheck: { test: wget(PORTS.nodeExporter, "/"), interval: "30s", timeout: "5s", retries: 3, startPeriod: "10s" },
    stopGracePeriod: "10s",
    ...stateless,
    update: { ...STATELESS_UPDATE, order: "stop-first" },
    rollback: rollbackOf({ ...STATELESS_UPDATE, order: "stop-first" }),
  };

  const cadvisor: ServiceSpec = {
    ...frontDefaults(ctx, "cadvisor"),
    name: "cadvisor",
    component: "cadvisor",
    image: frontImage(ctx, "cadvisor"),
    command: [
      "--docker_only=true",
      "--housekeeping_interval=15s",
      "--store_container_labels=false",
      "--whitelisted_container_labels=com.docker.swarm.service.name,com.docker.swarm.node.id,com.docker.stack.namespace",
      "--disable_metrics=percpu,sched,tcp,udp,disk,diskIO,hugetlb,referenced_memory,cpu_topology,resctrl",
    ],
    mode: { global: true },
    endpointMode: "dnsrr",
    networks: attach("cadvisor", NET.backend),
    mounts: [
      { type: "bind", source: "/", target: "/rootfs", readOnly: true },
      { type: "bind", source: "/var/run", target: "/var/run", readOnly: true },
      { type: "bind", source: "/sys", target: "/sys", readOnly: true },
      { type: "bind", source: "/var/lib/docker", target: "/var/lib/docker", readOnly: true },
      { type: "bind", source: "/dev/disk", target: "/dev/disk", readOnly: true },
    ],
    placement: everyNode,
    resources: { limits: { cpus: 0.5, memoryBytes: 256 * MiB }, reservations: { cpus: 0.02, memoryBytes: 64 * MiB } },
    healthcheck: { test: wget(PORTS.cadvisor, "/healthz"), interval: "30s", timeout: "5s", retries: 3, startPeriod: "30s" },
    stopGracePeriod: "10s",
    update: { ...STATELESS_UPDATE, order: "stop-first" },
    rollback: rollbackOf({ ...STATELESS_UPDATE, order: "stop-first" }),
  };

  const services = [prometheus, alertmanager, grafana, nodeExporter, cadvisor];
  // The replica alert covers every service of the platform, these included; configs are referenced by key, so the rules can come last.
  const rules = configSpec(prefix, "prometheus-rules", yamlText(alertRules(ctx, [...otherServices(ctx), ...services])));
  return {
    ...EMPTY_PLATFORM,
    services,
    configs: [prom, rules, am, datasources, providers, dashboard],
    secrets,
    volumes,
  };
}
