/**
 * Pinned default image of every service family of the platform. One setting per
 * family (`image<Family>`, e.g. imageRedis) overrides it; a tag is always explicit
 * and never `latest`, so a redeploy never pulls something nobody reviewed.
 *
 * The data services' scripts use only POSIX sh and the server binaries on PATH,
 * so a locally built Debian image (the end-to-end tests) can stand in for these.
 */
export const IMAGE_FAMILIES = [
  "redis",
  "haproxy",
  "rabbitmq",
  "etcd",
  "vault",
  "apisix",
  "apisixDashboard",
  "prometheus",
  "alertmanager",
  "grafana",
  "nodeExporter",
  "cadvisor",
  "redisExporter",
  "edge",
] as const;

export type ImageFamily = (typeof IMAGE_FAMILIES)[number];

/** Images by family, as StackConfig carries them (`config.images.redis`). */
export type Images = Readonly<Record<ImageFamily, string>>;

interface ImageDefault {
  readonly image: string;
  readonly why: string;
}

export const DEFAULT_IMAGES: Readonly<Record<ImageFamily, ImageDefault>> = {
  redis: { image: "redis:7.4.2", why: "Redis data members and Sentinels (Sentinel hostname support needs 6.2 or later)" },
  haproxy: { image: "haproxy:3.0.7", why: "the stable `redis` endpoint that follows the current master (HAProxy 3.0 LTS)" },
  rabbitmq: { image: "rabbitmq:4.0.5-management", why: "RabbitMQ nodes with the management plugin; quorum queues by the virtual host's default queue type" },
  etcd: { image: "quay.io/coreos/etcd:v3.5.17", why: "etcd members for APISIX when no external endpoints are configured" },
  vault: { image: "hashicorp/vault:1.18.3", why: "Vault (integrated Raft storage)" },
  apisix: { image: "apache/apisix:3.11.0-debian", why: "APISIX gateway" },
  apisixDashboard: { image: "apache/apisix-dashboard:3.0.1-alpine", why: "APISIX dashboard" },
  prometheus: { image: "prom/prometheus:v2.55.1", why: "Prometheus (2.x: its configuration is checked with Debian's promtool)" },
  alertmanager: { image: "prom/alertmanager:v0.27.0", why: "Alertmanager" },
  grafana: { image: "grafana/grafana:11.4.0", why: "Grafana" },
  nodeExporter: { image: "prom/node-exporter:v1.8.2", why: "node exporter on every node" },
  cadvisor: { image: "gcr.io/cadvisor/cadvisor:v0.49.1", why: "cAdvisor on every node" },
  redisExporter: { image: "oliver006/redis_exporter:v1.66.0-alpine", why: "Redis exporter for Prometheus (the alpine build: its entrypoint renders the password file with /bin/sh)" },
  edge: { image: "caddy:2.8.4", why: "TLS edge on the floating-IP node (ACME certificates)" },
};

/** The setting that overrides a family's image: redis -> imageRedis, apisixDashboard -> imageApisixDashboard. */
export function imageSettingKey(family: ImageFamily): string {
  return `image${family[0].toUpperCase()}${family.slice(1)}`;
}
