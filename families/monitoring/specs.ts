/**
 * Monitoring: Prometheus (one replica pinned to the monitoring node, TSDB on a
 * local volume there, never on the shared StorageBox mount), Alertmanager,
 * Grafana, and the exporters on every node (node-exporter, cAdvisor). Nothing is
 * published; docs/operating.md shows the SSH tunnel.
 *
 * Monitoring reads the other families' parts: their scrape jobs, their alert rule
 * groups and their services (for the replica alert). It names no family itself.
 */
import { yamlDocument } from "../../lib/yaml";
import { GiB, MiB } from "../../lib/size";
import type { NodeSpec } from "../../core/topology";
import { pinTo, SERVICE_NODE_CONSTRAINT } from "../../core/placement";
import { configSpec, EMPTY_PLATFORM, NO_CAPABILITIES, LOCKED_DOWN, rollbackOf, STATEFUL_UPDATE, STATELESS_UPDATE, type FileRef, type PlatformSpec, type SecretSpec, type ServiceSpec, type VolumeSpec } from "../../core/model";
import { NET } from "../../core/networks";
import type { AlertRule, FamilyContext, FamilyPart, RuleGroup } from "../kit/family";
import { attach, frontDefaults } from "../kit/front";
import { familyFile } from "../kit/files";
import { nodeVolume } from "../kit/member";
import { dnsTargets, hostPort } from "../kit/scrape";
import { randomSecret, settingSecret } from "../kit/secrets";
import type { MonitoringSection } from "./settings";
import { httpGetTest } from "../kit/health";

type MonitoringContext = FamilyContext<MonitoringSection>;

export const PORTS = {
  prometheus: 9090,
  alertmanager: 9093,
  grafana: 3000,
  nodeExporter: 9100,
  cadvisor: 8080,
} as const;

const PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml";
const PROMETHEUS_RULES = "/etc/prometheus/rules/platform.rules.yml";
const ALERTMANAGER_CONFIG = "/etc/alertmanager/alertmanager.yml";
const ALERT_WEBHOOK_SECRET = "alert-webhook-url";
export const GRAFANA_PASSWORD_SECRET = "grafana-admin-password";
/** prom/prometheus and prom/alertmanager run as nobody. */
const NOBODY = "65534";

const scrapeInterval = "15s";

/** The monitoring node (validated in the config). */
export function monitoringNode(ctx: Pick<MonitoringContext, "topology" | "section">): NodeSpec {
  const node = ctx.topology.nodes.find((n) => n.name === ctx.section.node);
  if (!node) throw new Error(`monitoring node ${ctx.section.node} is not in the topology (the config validation should have caught this)`);
  return node;
}

/** prometheus.yml of this stack: monitoring's own jobs, then every other part's, in registry order. */
export function prometheusConfig(ctx: MonitoringContext, others: readonly FamilyPart[]): Record<string, unknown> {
  const jobs: Record<string, unknown>[] = [
    { job_name: "prometheus", static_configs: [{ targets: [hostPort("localhost", PORTS.prometheus)] }] },
    { job_name: "alertmanager", static_configs: [{ targets: [hostPort("alertmanager", PORTS.alertmanager)] }] },
    { job_name: "node-exporter", dns_sd_configs: dnsTargets("node-exporter", PORTS.nodeExporter) },
    { job_name: "cadvisor", dns_sd_configs: dnsTargets("cadvisor", PORTS.cadvisor) },
    ...others.flatMap((p) => p.scrapeJobs.map((j) => ({ ...j.config }))),
  ];
  return {
    global: {
      scrape_interval: scrapeInterval,
      scrape_timeout: "10s",
      evaluation_interval: scrapeInterval,
      external_labels: { stack: ctx.config.stack },
    },
    rule_files: [PROMETHEUS_RULES],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [hostPort("alertmanager", PORTS.alertmanager)] }] }] },
    scrape_configs: jobs,
  };
}

/** Files the other parts' scrape jobs need in Prometheus (a CA chain), readable by its user. */
function scrapeSecrets(others: readonly FamilyPart[]): FileRef[] {
  return others.flatMap((p) => p.scrapeJobs.flatMap((j) => j.secrets ?? []))
    .map((f) => ({ key: f.key, target: f.target, mode: 0o444, uid: NOBODY, gid: NOBODY }));
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

/**
 * Alert and recording rules of this stack: the nodes, every other part's groups in
 * registry order, and the replica alert over every service of the platform.
 */
export function alertRules(ctx: MonitoringContext, others: readonly FamilyPart[], services: readonly ServiceSpec[]): { groups: RuleGroup[] } {
  const nodes = ctx.topology.workloadNodes;
  const nodeRules: AlertRule[] = [
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
  const desired = services
    .map((s) => ({ name: s.name, replicas: desiredReplicas(s, nodes) }))
    .filter((d): d is { name: string; replicas: number } => d.replicas !== undefined && d.replicas > 0);
  const swarmRules: AlertRule[] = [
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
      ...others.flatMap((p) => p.alertRules),
      { name: "swarm-services", rules: swarmRules },
    ],
  };
}

/** alertmanager.yml: one receiver, the webhook when configured (its URL read from a secret file). */
export function alertmanagerConfig(ctx: Pick<MonitoringContext, "section">): Record<string, unknown> {
  const webhook = ctx.section.alertWebhookUrl !== "";
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

export function monitoringSpecs(ctx: MonitoringContext, others: readonly FamilyPart[]): PlatformSpec {
  const { prefix } = ctx;
  const mon = ctx.section;
  const node = monitoringNode(ctx);
  const onMonitoringNode = { constraints: [pinTo(node)], spread: [] };
  const stateful = { update: STATEFUL_UPDATE, rollback: rollbackOf(STATEFUL_UPDATE) };
  const stateless = { update: STATELESS_UPDATE, rollback: rollbackOf(STATELESS_UPDATE) };

  const prom = configSpec(prefix, "prometheus-config", yamlText(prometheusConfig(ctx, others)));
  const am = configSpec(prefix, "alertmanager-config", yamlText(alertmanagerConfig(ctx)));
  const datasources = configSpec(prefix, "grafana-datasources", yamlText(grafanaDatasources()));
  const providers = configSpec(prefix, "grafana-dashboards", yamlText(grafanaDashboardProviders()));
  const dashboard = configSpec(prefix, "grafana-platform-dashboard", familyFile(__dirname, "grafana-platform-dashboard.json"));
  const secrets: SecretSpec[] = [
    randomSecret(prefix, GRAFANA_PASSWORD_SECRET, 24, "Grafana admin password"),
    ...(mon.alertWebhookUrl !== "" ? [settingSecret(prefix, ALERT_WEBHOOK_SECRET, "alertWebhookUrl", "Alertmanager webhook URL (carries a token)")] : []),
  ];
  const volumes: VolumeSpec[] = [
    nodeVolume(ctx, "prometheus-data", "prometheus", node),
    nodeVolume(ctx, "alertmanager-data", "alertmanager", node),
    ...(mon.grafanaDataDir === "" ? [nodeVolume(ctx, "grafana-data", "grafana", node)] : []),
  ];

  const prometheus: ServiceSpec = {
    ...frontDefaults(ctx, "prometheus"),
    name: "prometheus",
    component: "prometheus",
    hardening: NO_CAPABILITIES,
    image: mon.images.prometheus,
    command: [
      `--config.file=${PROMETHEUS_CONFIG}`,
      "--storage.tsdb.path=/prometheus",
      `--storage.tsdb.retention.time=${mon.prometheusRetention}`,
      `--storage.tsdb.retention.size=${mon.prometheusRetentionSize}`,
      "--web.console.libraries=/usr/share/prometheus/console_libraries",
      "--web.console.templates=/usr/share/prometheus/consoles",
    ],
    mode: { replicas: 1 },
    // Off the platform network: applications never reach its API. Scrapes go over each family's own network.
    listens: [{ port: PORTS.prometheus, what: "query API, UI" }],
    networks: attach("prometheus", NET.monitoring, NET.backend, NET.etcd),
    secrets: scrapeSecrets(others),
    configs: [
      { key: prom.key, target: PROMETHEUS_CONFIG, mode: 0o444 },
      { key: "prometheus-rules", target: PROMETHEUS_RULES, mode: 0o444 },
    ],
    // A local volume on one node: Prometheus' WAL and compaction need a real local filesystem, not the StorageBox mount.
    mounts: [{ type: "volume", source: "prometheus-data", target: "/prometheus", readOnly: false }],
    placement: onMonitoringNode,
    node: node.name,
    resources: { limits: { cpus: 2, memoryBytes: 2 * GiB }, reservations: { cpus: 0.25, memoryBytes: 512 * MiB } },
    healthcheck: { test: httpGetTest(PORTS.prometheus, "/-/ready"), interval: "15s", timeout: "5s", retries: 3, startPeriod: "2m" },
    stopGracePeriod: "1m",
    ...stateful,
    stateful: true,
  };

  const alertmanager: ServiceSpec = {
    ...frontDefaults(ctx, "alertmanager"),
    name: "alertmanager",
    component: "alertmanager",
    hardening: NO_CAPABILITIES,
    image: mon.images.alertmanager,
    command: [
      `--config.file=${ALERTMANAGER_CONFIG}`,
      "--storage.path=/alertmanager",
      // A single instance: no gossip cluster to form.
      "--cluster.listen-address=",
    ],
    mode: { replicas: 1 },
    // Only Prometheus, Grafana and the exporters share its network (a route out, for the webhook): applications cannot silence alerts.
    listens: [{ port: PORTS.alertmanager, what: "API (alerts, silences)" }],
    networks: attach("alertmanager", NET.monitoring),
    secrets: mon.alertWebhookUrl !== "" ? [{ key: ALERT_WEBHOOK_SECRET, target: `/run/secrets/${ALERT_WEBHOOK_SECRET}`, mode: 0o400, uid: NOBODY, gid: NOBODY }] : [],
    configs: [{ key: am.key, target: ALERTMANAGER_CONFIG, mode: 0o444 }],
    mounts: [{ type: "volume", source: "alertmanager-data", target: "/alertmanager", readOnly: false }],
    placement: onMonitoringNode,
    node: node.name,
    resources: { limits: { cpus: 0.5, memoryBytes: 128 * MiB }, reservations: { cpus: 0.02, memoryBytes: 32 * MiB } },
    healthcheck: { test: httpGetTest(PORTS.alertmanager, "/-/ready"), interval: "15s", timeout: "5s", retries: 3, startPeriod: "30s" },
    stopGracePeriod: "30s",
    ...stateful,
    stateful: true,
  };

  const sharedGrafana = mon.grafanaDataDir !== "";
  const grafana: ServiceSpec = {
    ...frontDefaults(ctx, "grafana"),
    name: "grafana",
    component: "grafana",
    image: mon.images.grafana,
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
    // platform: the operators' tunnel (Grafana asks for its password); monitoring: its datasources.
    listens: [{ port: PORTS.grafana, what: "UI (password)" }],
    networks: attach("grafana", NET.monitoring, NET.platform),
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
    healthcheck: { test: httpGetTest(PORTS.grafana, "/api/health"), interval: "15s", timeout: "5s", retries: 3, startPeriod: "1m" },
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
    // Reads the host's /proc, /sys and / through read-only binds; writes nothing.
    hardening: LOCKED_DOWN,
    image: mon.images.nodeExporter,
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
    listens: [{ port: PORTS.nodeExporter, what: "metrics" }],
    networks: attach("node-exporter", NET.monitoring),
    mounts: [
      { type: "bind", source: "/proc", target: "/host/proc", readOnly: true },
      { type: "bind", source: "/sys", target: "/host/sys", readOnly: true },
      { type: "bind", source: "/", target: "/rootfs", readOnly: true },
    ],
    placement: everyNode,
    resources: { limits: { cpus: 0.25, memoryBytes: 64 * MiB }, reservations: { cpus: 0.01, memoryBytes: 16 * MiB } },
    healthcheck: { test: httpGetTest(PORTS.nodeExporter, "/"), interval: "30s", timeout: "5s", retries: 3, startPeriod: "10s" },
    stopGracePeriod: "10s",
    ...stateless,
    update: { ...STATELESS_UPDATE, order: "stop-first" },
    rollback: rollbackOf({ ...STATELESS_UPDATE, order: "stop-first" }),
  };

  const cadvisor: ServiceSpec = {
    ...frontDefaults(ctx, "cadvisor"),
    name: "cadvisor",
    component: "cadvisor",
    image: mon.images.cadvisor,
    command: [
      "--docker_only=true",
      "--housekeeping_interval=15s",
      "--store_container_labels=false",
      "--whitelisted_container_labels=com.docker.swarm.service.name,com.docker.swarm.node.id,com.docker.stack.namespace",
      "--disable_metrics=percpu,sched,tcp,udp,disk,diskIO,hugetlb,referenced_memory,cpu_topology,resctrl",
    ],
    mode: { global: true },
    endpointMode: "dnsrr",
    listens: [{ port: PORTS.cadvisor, what: "metrics" }],
    networks: attach("cadvisor", NET.monitoring),
    mounts: [
      { type: "bind", source: "/", target: "/rootfs", readOnly: true },
      { type: "bind", source: "/var/run", target: "/var/run", readOnly: true },
      { type: "bind", source: "/sys", target: "/sys", readOnly: true },
      { type: "bind", source: "/var/lib/docker", target: "/var/lib/docker", readOnly: true },
      { type: "bind", source: "/dev/disk", target: "/dev/disk", readOnly: true },
    ],
    placement: everyNode,
    resources: { limits: { cpus: 0.5, memoryBytes: 256 * MiB }, reservations: { cpus: 0.02, memoryBytes: 64 * MiB } },
    healthcheck: { test: httpGetTest(PORTS.cadvisor, "/healthz"), interval: "30s", timeout: "5s", retries: 3, startPeriod: "30s" },
    stopGracePeriod: "10s",
    update: { ...STATELESS_UPDATE, order: "stop-first" },
    rollback: rollbackOf({ ...STATELESS_UPDATE, order: "stop-first" }),
  };

  const services = [prometheus, alertmanager, grafana, nodeExporter, cadvisor];
  // The replica alert covers every service of the platform, these included; configs are referenced by key, so the rules can come last.
  const rules = configSpec(prefix, "prometheus-rules", yamlText(alertRules(ctx, others, [...others.flatMap((p) => p.spec.services), ...services])));
  return {
    ...EMPTY_PLATFORM,
    services,
    configs: [prom, rules, am, datasources, providers, dashboard],
    secrets,
    volumes,
  };
}
