/**
 * APISIX (stateless gateway, configuration in etcd), its dashboard, and the
 * `apisix-routes` service that applies the declared routes through the Admin API.
 *
 * Secrets (admin key, data-encryption key, dashboard password and JWT secret)
 * are Docker secret files; the configuration files carry placeholders that an
 * entrypoint replaces at start into a memory-only file (families/kit/files/render-secrets.sh).
 * Neither the Admin API nor the dashboard is published.
 */
import { yamlDocument } from "../../lib/yaml";
import { GiB, MiB } from "../../lib/size";
import { configSpec, EMPTY_PLATFORM, LOCKED_DOWN, rollbackOf, STATELESS_UPDATE, type PlatformSpec, type SecretSpec, type ServiceSpec, type UpdatePolicy } from "../../core/model";
import { adminNetworkSubnet, edgeNetworkSubnet, NET } from "../../core/networks";
import { SERVICE_NODE_CONSTRAINT } from "../../core/placement";
import type { FamilyContext } from "../kit/family";
import { attach, frontDefaults } from "../kit/front";
import { familyFile } from "../kit/files";
import { RENDER_SCRIPT, renderSecretsConfig } from "../kit/render-secrets";
import { randomSecret } from "../kit/secrets";
import { etcdArea, etcdClientAuth, etcdEndpoints, etcdPrefix, type EtcdClient } from "../etcd";
import { REDIS_RATELIMIT_SECRET } from "../redis";
import { adminManifest, apisixAdminObjects, needsRedisPassword } from "./routes";
import type { ApisixSection } from "./settings";
import { httpGetTest } from "../kit/health";
import { CURL_IMAGE, CURL_UID } from "../kit/tools-image";

type ApisixContext = FamilyContext<ApisixSection>;

/** Where APISIX keeps its configuration: etcd's members or external endpoints. */
const etcdOf = (ctx: ApisixContext) => ({ topology: ctx.topology, section: ctx.sectionOf(etcdArea) });

/** APISIX's HTTP proxy port: where the edge sends the traffic. */
export const APISIX_PROXY_PORT = 9080;

export const APISIX_ADMIN_PORT = 9180;
export const APISIX_METRICS_PORT = 9091;
export const APISIX_DASHBOARD_PORT = 9000;

/** Placeholders in the configuration templates, replaced from secret files at start. */
export const PLACEHOLDER = {
  adminKey: "__APISIX_ADMIN_KEY__",
  dataKey: "__APISIX_DATA_KEY__",
  dashboardPassword: "__DASHBOARD_PASSWORD__",
  dashboardJwt: "__DASHBOARD_JWT_SECRET__",
  etcdPassword: "__ETCD_PASSWORD__",
} as const;

export const SECRET = {
  adminKey: "apisix-admin-key",
  dataKey: "apisix-data-key",
  dashboardPassword: "apisix-dashboard-password",
  dashboardJwt: "apisix-dashboard-jwt-secret",
} as const;

/** The image that applies the routes: sh, awk and curl, nothing else. */
export const APPLY_IMAGE = CURL_IMAGE;

const SCRIPT_DIR = "/platform";
const APISIX_TEMPLATE = `${SCRIPT_DIR}/config.yaml.tmpl`;
const APISIX_CONF = "/usr/local/apisix/conf/config.yaml";
const DASHBOARD_TEMPLATE = `${SCRIPT_DIR}/conf.yaml.tmpl`;
const DASHBOARD_CONF = "/usr/local/apisix-dashboard/conf/conf.yaml";
const APPLY_SCRIPT = `${SCRIPT_DIR}/apisix-apply.sh`;
const APPLY_MANIFEST = `${SCRIPT_DIR}/manifest`;
const APPLY_READY = "/tmp/apisix-routes.applied";
/** The APISIX image runs as apisix (636); its secrets are readable by that user only. */
const APISIX_UID = "636";

const secretPath = (key: string): string => `/run/secrets/${key}`;

/** A client's etcd login as its configuration file takes it (user and a password placeholder), or nothing for an external etcd. */
function etcdLogin(ctx: ApisixContext, client: EtcdClient, userKey: string): Record<string, string> {
  const auth = etcdClientAuth(etcdOf(ctx), client);
  return auth ? { [userKey]: auth.user, password: PLACEHOLDER.etcdPassword } : {};
}

/** The password file of a client's etcd user: a render-secrets pair and its mount, or nothing. */
function etcdPasswordFile(ctx: ApisixContext, client: EtcdClient, uid: string): { readonly pairs: string[]; readonly secrets: ServiceSpec["secrets"] } {
  const auth = etcdClientAuth(etcdOf(ctx), client);
  if (!auth) return { pairs: [], secrets: [] };
  return {
    pairs: [`${PLACEHOLDER.etcdPassword}=${secretPath(auth.secret)}`],
    secrets: [{ key: auth.secret, target: secretPath(auth.secret), mode: 0o400, uid, gid: uid }],
  };
}

/**
 * APISIX 3.11's default plugin list (apisix/cli/config.lua at tag 3.11.0, lines 179-266),
 * in its order, without serverless-pre-function and serverless-post-function: those run
 * Lua code taken from a route, so whoever can write a route (the Admin API, etcd) would
 * run code in every gateway. Naming the list also keeps a new APISIX release from
 * switching on a plugin nobody reviewed.
 */
export const APISIX_PLUGINS: readonly string[] = [
  "real-ip", "ai", "client-control", "proxy-control", "request-id", "zipkin", "ext-plugin-pre-req", "fault-injection",
  "mocking", "cors", "ip-restriction", "ua-restriction", "referer-restriction", "csrf", "uri-blocker",
  "request-validation", "chaitin-waf", "multi-auth", "openid-connect", "cas-auth", "authz-casbin", "authz-casdoor", "wolf-rbac",
  "ldap-auth", "hmac-auth", "basic-auth", "jwt-auth", "jwe-decrypt", "key-auth", "consumer-restriction", "attach-consumer-label",
  "forward-auth", "opa", "authz-keycloak", "proxy-cache", "body-transformer", "ai-prompt-template", "ai-prompt-decorator",
  "proxy-mirror", "proxy-rewrite", "workflow", "api-breaker", "ai-proxy", "limit-conn", "limit-count", "limit-req", "gzip",
  "server-info", "traffic-split", "redirect", "response-rewrite", "degraphql", "kafka-proxy", "grpc-transcode", "grpc-web",
  "http-dubbo", "public-api", "prometheus", "datadog", "loki-logger", "elasticsearch-logger", "echo", "loggly", "http-logger",
  "splunk-hec-logging", "skywalking-logger", "google-cloud-logging", "sls-logger", "tcp-logger", "kafka-logger",
  "rocketmq-logger", "syslog", "udp-logger", "file-logger", "clickhouse-logger", "tencent-cloud-cls", "inspect",
  "example-plugin", "aws-lambda", "azure-functions", "openwhisk", "openfunction", "ext-plugin-post-req", "ext-plugin-post-resp",
];

/** APISIX's conf/config.yaml, secrets as placeholders. */
export function apisixConfig(ctx: ApisixContext): Record<string, unknown> {
  return {
    apisix: {
      node_listen: APISIX_PROXY_PORT,
      enable_ipv6: false,
      enable_admin: true,
      // Plugin secrets stored in etcd (e.g. limit-count's redis_password) are encrypted with this key, not the well-known default.
      data_encryption: { enable_encrypt_fields: true, keyring: [PLACEHOLDER.dataKey] },
    },
    nginx_config: {
      http: {
        // The edge puts the client address in X-Real-IP; only the edge network may set it, anything else is taken as the peer address.
        real_ip_header: "X-Real-IP",
        real_ip_recursive: "off",
        real_ip_from: ["127.0.0.1", edgeNetworkSubnet(ctx.config)],
      },
    },
    deployment: {
      role: "traditional",
      role_traditional: { config_provider: "etcd" },
      admin: {
        admin_key_required: true,
        admin_key: [{ name: "admin", key: PLACEHOLDER.adminKey, role: "admin" }],
        // Only the admin network (APISIX and the routes applier) may call it, and with the key; it is never published.
        allow_admin: ["127.0.0.0/24", adminNetworkSubnet(ctx.config)],
        admin_listen: { ip: "0.0.0.0", port: APISIX_ADMIN_PORT },
      },
      // The user's role reads and writes the prefix and nothing else (families/etcd/files/etcd-auth.sh).
      etcd: { host: etcdEndpoints(etcdOf(ctx)), prefix: etcdPrefix(etcdOf(ctx)), timeout: 30, ...etcdLogin(ctx, "apisix", "user") },
    },
    plugins: [...APISIX_PLUGINS],
    plugin_attr: {
      prometheus: { export_uri: "/apisix/prometheus/metrics", export_addr: { ip: "0.0.0.0", port: APISIX_METRICS_PORT } },
    },
  };
}

/** The dashboard's conf/conf.yaml, secrets as placeholders. */
export function dashboardConfig(ctx: ApisixContext): Record<string, unknown> {
  return {
    conf: {
      listen: { host: "0.0.0.0", port: APISIX_DASHBOARD_PORT },
      // Reached only through the SSH tunnel on the attachable platform network.
      allow_list: ["127.0.0.0/24", ctx.config.docker.swarmAddrPool],
      etcd: { endpoints: etcdEndpoints(etcdOf(ctx)), prefix: etcdPrefix(etcdOf(ctx)), ...etcdLogin(ctx, "dashboard", "username") },
      log: {
        error_log: { level: "warn", file_path: "/dev/stderr" },
        access_log: { file_path: "/dev/stdout" },
      },
    },
    authentication: {
      secret: PLACEHOLDER.dashboardJwt,
      expire_time: 3600,
      users: [{ username: "admin", password: PLACEHOLDER.dashboardPassword }],
    },
  };
}

const yamlText = (value: unknown): string => yamlDocument("Generated by the platform program; secrets are placeholders filled in at start.", value);

/** At most one per node with as many replicas as nodes: a start-first update would have nowhere to start the new task. */
export const ONE_PER_NODE_UPDATE: UpdatePolicy = { ...STATELESS_UPDATE, order: "stop-first" };

export function apisixSpecs(ctx: ApisixContext): PlatformSpec {
  const { prefix } = ctx;
  const replicas = ctx.section.replicas;
  const random = (key: string, length: number, description: string): SecretSpec => randomSecret(prefix, key, length, description);
  const secrets: SecretSpec[] = [
    random(SECRET.adminKey, 32, "APISIX Admin API key (role admin)"),
    // APISIX's keyring takes 16-character AES-128 keys.
    random(SECRET.dataKey, 16, "APISIX data-encryption key for plugin secrets stored in etcd"),
    random(SECRET.dashboardPassword, 24, "APISIX dashboard password of user admin"),
    random(SECRET.dashboardJwt, 32, "APISIX dashboard JWT signing secret (shared by its replicas)"),
  ];
  const render = renderSecretsConfig(prefix, "apisix-render-secrets-sh");
  const apisixTemplate = configSpec(prefix, "apisix-config", yamlText(apisixConfig(ctx)));
  const dashboardTemplate = configSpec(prefix, "apisix-dashboard-config", yamlText(dashboardConfig(ctx)));
  const objects = apisixAdminObjects(ctx);
  const manifest = configSpec(prefix, "apisix-routes-manifest", adminManifest(objects));
  const applyScript = configSpec(prefix, "apisix-apply-sh", familyFile(__dirname, "apisix-apply.sh"));
  const withRedis = needsRedisPassword(objects);
  const apisixEtcd = etcdPasswordFile(ctx, "apisix", APISIX_UID);
  const dashboardEtcd = etcdPasswordFile(ctx, "dashboard", "0");

  const onePerServiceNode = {
    constraints: [SERVICE_NODE_CONSTRAINT],
    spread: ["node.labels.location"],
    maxReplicasPerNode: 1,
  };

  const apisix: ServiceSpec = {
    ...frontDefaults(ctx, "apisix"),
    name: "apisix",
    component: "apisix",
    image: ctx.section.images.apisix,
    entrypoint: [
      "/bin/sh", RENDER_SCRIPT, APISIX_TEMPLATE, "/dev/shm/apisix/config.yaml", APISIX_CONF,
      `${PLACEHOLDER.adminKey}=${secretPath(SECRET.adminKey)}`,
      `${PLACEHOLDER.dataKey}=${secretPath(SECRET.dataKey)}`,
      ...apisixEtcd.pairs,
      "--", "/docker-entrypoint.sh", "docker-start",
    ],
    mode: { replicas },
    listens: [{ port: APISIX_PROXY_PORT, what: "gateway" }, { port: APISIX_ADMIN_PORT, what: "admin API" }, { port: APISIX_METRICS_PORT, what: "metrics" }],
    // edge: the traffic in; platform: the upstreams and Redis; etcd: its configuration; admin: the routes applier.
    networks: attach("apisix", NET.edge, NET.platform, NET.etcd, NET.admin),
    secrets: [
      { key: SECRET.adminKey, target: secretPath(SECRET.adminKey), mode: 0o400, uid: APISIX_UID, gid: APISIX_UID },
      { key: SECRET.dataKey, target: secretPath(SECRET.dataKey), mode: 0o400, uid: APISIX_UID, gid: APISIX_UID },
      ...apisixEtcd.secrets,
    ],
    configs: [
      { key: render.key, target: RENDER_SCRIPT, mode: 0o555 },
      { key: apisixTemplate.key, target: APISIX_TEMPLATE, mode: 0o444 },
    ],
    placement: onePerServiceNode,
    resources: { limits: { cpus: 2, memoryBytes: 1 * GiB }, reservations: { cpus: 0.25, memoryBytes: 256 * MiB } },
    healthcheck: {
      // The image has no curl: bash's /dev/tcp asks the gateway port for a status line (any answer means nginx serves).
      test: ["CMD", "bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${APISIX_PROXY_PORT} && printf 'GET /apisix-health HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q '^HTTP/1.1 '`],
      interval: "10s",
      timeout: "5s",
      retries: 3,
      startPeriod: "1m",
    },
    stopGracePeriod: "30s",
    update: ONE_PER_NODE_UPDATE,
    rollback: rollbackOf(ONE_PER_NODE_UPDATE),
  };

  const dashboard: ServiceSpec = {
    ...frontDefaults(ctx, "apisix-dashboard"),
    name: "apisix-dashboard",
    component: "apisix-dashboard",
    image: ctx.section.images.apisixDashboard,
    entrypoint: [
      "/bin/sh", RENDER_SCRIPT, DASHBOARD_TEMPLATE, "/dev/shm/apisix-dashboard/conf.yaml", DASHBOARD_CONF,
      `${PLACEHOLDER.dashboardPassword}=${secretPath(SECRET.dashboardPassword)}`,
      `${PLACEHOLDER.dashboardJwt}=${secretPath(SECRET.dashboardJwt)}`,
      ...dashboardEtcd.pairs,
      "--", "/usr/local/apisix-dashboard/manager-api",
    ],
    mode: { replicas },
    listens: [{ port: APISIX_DASHBOARD_PORT, what: "dashboard" }],
    networks: attach("apisix-dashboard", NET.platform, NET.etcd),
    secrets: [
      { key: SECRET.dashboardPassword, target: secretPath(SECRET.dashboardPassword), mode: 0o400, uid: "0", gid: "0" },
      { key: SECRET.dashboardJwt, target: secretPath(SECRET.dashboardJwt), mode: 0o400, uid: "0", gid: "0" },
      ...dashboardEtcd.secrets,
    ],
    configs: [
      { key: render.key, target: RENDER_SCRIPT, mode: 0o555 },
      { key: dashboardTemplate.key, target: DASHBOARD_TEMPLATE, mode: 0o444 },
    ],
    placement: onePerServiceNode,
    resources: { limits: { cpus: 0.5, memoryBytes: 256 * MiB }, reservations: { cpus: 0.05, memoryBytes: 64 * MiB } },
    healthcheck: {
      test: httpGetTest(APISIX_DASHBOARD_PORT, "/ping"),
      interval: "15s",
      timeout: "5s",
      retries: 3,
      startPeriod: "30s",
    },
    stopGracePeriod: "10s",
    update: ONE_PER_NODE_UPDATE,
    rollback: rollbackOf(ONE_PER_NODE_UPDATE),
  };

  const routes: ServiceSpec = {
    ...frontDefaults(ctx, "apisix-routes"),
    name: "apisix-routes",
    component: "apisix-routes",
    image: APPLY_IMAGE,
    entrypoint: ["/bin/sh", APPLY_SCRIPT],
    // curl_user needs no capability; scratch files and the ready file go to a memory-only /tmp.
    hardening: LOCKED_DOWN,
    env: {
      ADMIN_URL: `http://apisix:${APISIX_ADMIN_PORT}`,
      ADMIN_KEY_FILE: secretPath(SECRET.adminKey),
      MANIFEST: APPLY_MANIFEST,
      ...(withRedis ? { REDIS_PASSWORD_FILE: secretPath(REDIS_RATELIMIT_SECRET) } : {}),
      APPLY_INTERVAL: "600",
      RETRY_DELAY: "5",
      READY_FILE: APPLY_READY,
    },
    mode: { replicas: 1 },
    networks: attach("apisix-routes", NET.admin),
    secrets: [
      { key: SECRET.adminKey, target: secretPath(SECRET.adminKey), mode: 0o400, uid: CURL_UID, gid: CURL_UID },
      ...(withRedis ? [{ key: REDIS_RATELIMIT_SECRET, target: secretPath(REDIS_RATELIMIT_SECRET), mode: 0o400, uid: CURL_UID, gid: CURL_UID }] : []),
    ],
    configs: [
      { key: applyScript.key, target: APPLY_SCRIPT, mode: 0o555 },
      { key: manifest.key, target: APPLY_MANIFEST, mode: 0o444 },
    ],
    mounts: [{ type: "tmpfs", source: "", target: "/tmp", readOnly: false, tmpfsSizeBytes: 1 * MiB, tmpfsMode: 0o777 }],
    placement: { constraints: [SERVICE_NODE_CONSTRAINT], spread: [] },
    resources: { limits: { cpus: 0.25, memoryBytes: 64 * MiB }, reservations: { cpus: 0.01, memoryBytes: 16 * MiB } },
    healthcheck: {
      test: ["CMD", "test", "-f", APPLY_READY],
      interval: "10s",
      timeout: "3s",
      retries: 3,
      // APISIX and etcd may still be starting on a fresh stack; until then the script retries every RETRY_DELAY.
      startPeriod: "3m",
    },
    stopGracePeriod: "5s",
    update: STATELESS_UPDATE,
    rollback: rollbackOf(STATELESS_UPDATE),
  };

  return {
    ...EMPTY_PLATFORM,
    secrets,
    configs: [render, apisixTemplate, dashboardTemplate, manifest, applyScript],
    services: [apisix, dashboard, routes],
  };
}
