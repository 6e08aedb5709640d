/**
 * Redis with Sentinel: data members redis-1..n (one pinned service each, own
 * volume, AOF), Sentinels redis-sentinel-1..n (pinned, announcing hostnames),
 * and `redis`, a stable endpoint for clients that cannot speak Sentinel (APISIX
 * rate limiting): HAProxy that only forwards to the member reporting role:master.
 */
import { createHash } from "node:crypto";
import {
  configSpec,
  rollbackOf,
  RESTART_ANY,
  STATELESS_UPDATE,
  LOCKED_DOWN,
  type ConfigSpec,
  type FileRef,
  type PlatformSpec,
  type SecretSpec,
  type ServiceSpec,
} from "../../core/model";
import { NET } from "../../core/networks";
import { SERVICE_NODE_CONSTRAINT } from "../../core/placement";
import { MiB, sizeToBytes } from "../../lib/size";
import type { FamilyContext, SectionContext } from "../kit/family";
import { attach, frontDefaults, platformLabels } from "../kit/front";
import { familyFile } from "../kit/files";
import { members, memberVolume, pinnedMember, type Member } from "../kit/member";
import { RENDER_SCRIPT, renderSecretsConfig } from "../kit/render-secrets";
import { randomSecret } from "../kit/secrets";
import type { RedisAppUser, RedisSection } from "./settings";
import { httpGetTest } from "../kit/health";

type RedisContext = FamilyContext<RedisSection>;

export const REDIS_PORT = 6379;
export const SENTINEL_PORT = 26379;
export const REDIS_ENDPOINT_MONITOR_PORT = 8404;
/** The Redis exporter's metrics port; Prometheus scrapes every member and Sentinel through it. */
export const REDIS_EXPORTER_PORT = 9121;
/** Service name (and DNS name) of the stable endpoint that always leads to the master. */
export const REDIS_ENDPOINT_SERVICE = "redis";
/** Key of the admin user's password (operators, the exporter): never handed to an application. */
export const REDIS_PASSWORD_SECRET = "redis-password";

/**
 * The ACL users of the platform itself. Every server's `default` user is off; the health
 * user has no password and may only PING and ROLE (health checks, HAProxy's master check,
 * a Sentinel asking a member its role).
 */
export const REDIS_USERS = {
  admin: "admin",
  health: "health",
  replication: "replication",
  sentinel: "sentinel",
  rateLimit: "apisix-ratelimit",
} as const;

export const REDIS_REPLICATION_SECRET = "redis-replication-password";
export const REDIS_SENTINEL_SECRET = "redis-sentinel-password";
/** The APISIX rate limiter's password (user apisix-ratelimit, limit-count's keys only). */
export const REDIS_RATELIMIT_SECRET = "redis-ratelimit-password";
export const redisAppSecret = (user: Pick<RedisAppUser, "name">): string => `redis-app-${user.name}-password`;

/** Where limit-count keeps its counters: its keys start with the plugin's name (apisix/plugins/limit-count/limit-count-redis.lua). */
export const RATELIMIT_KEY_PATTERN = "limit-count*";

const PASSWORD_PATH = `/run/secrets/${REDIS_PASSWORD_SECRET}`;
const secretFile = (key: string): string => `/run/secrets/${key}`;

/** The Sentinel user's commands on a data member, as the Redis Sentinel documentation lists them. */
const SENTINEL_ON_MEMBER = "allchannels -@all +multi +slaveof +ping +exec +subscribe +config|rewrite +role +publish +info +client|setname +client|kill +script|kill";
/** What anyone may ask a Sentinel: who the master is and who the others are (no SET, FAILOVER, RESET, CONFIG). */
const SENTINEL_DISCOVERY = "resetchannels &+switch-master -@all +ping +hello +client|setname +subscribe +sentinel|get-master-addr-by-name +sentinel|master +sentinel|masters +sentinel|sentinels +sentinel|replicas +sentinel|slaves";

/** The data members' users, without passwords (the entrypoint adds each one's hash). */
export function memberAclTemplate(apps: readonly RedisAppUser[]): string {
  return [
    "user default off",
    `user ${REDIS_USERS.health} on nopass resetchannels -@all +ping +role`,
    `user ${REDIS_USERS.admin} on ~* &* +@all`,
    `user ${REDIS_USERS.replication} on resetchannels -@all +psync +replconf +ping`,
    `user ${REDIS_USERS.sentinel} on ${SENTINEL_ON_MEMBER}`,
    `user ${REDIS_USERS.rateLimit} on ~${RATELIMIT_KEY_PATTERN} resetchannels -@all +ping +eval +evalsha +ttl +set +incrby`,
    ...apps.map((u) => `user ${u.name} on ${u.keyPatterns.map((k) => `~${k}`).join(" ")} resetchannels ${u.keyPatterns.map((k) => `&${k}`).join(" ")} +@all -@admin -@dangerous`),
    "",
  ].join("\n");
}

/** The Sentinels' users: discovery for anyone and for each application's login, everything for the Sentinels and the admin. */
export function sentinelAclTemplate(apps: readonly RedisAppUser[]): string {
  return [
    `user default on nopass ${SENTINEL_DISCOVERY}`,
    `user ${REDIS_USERS.health} on nopass -@all +ping`,
    `user ${REDIS_USERS.sentinel} on allchannels +@all`,
    `user ${REDIS_USERS.admin} on allchannels +@all`,
    ...apps.map((u) => `user ${u.name} on ${SENTINEL_DISCOVERY}`),
    "",
  ].join("\n");
}

/** "user=/run/secrets/file ..." for the entrypoints' render_acl. */
const userPasswords = (pairs: readonly (readonly [string, string])[]): string => pairs.map(([user, key]) => `${user}=${secretFile(key)}`).join(" ");
const REDIS_DIR = "/etc/redis";
const MEMBER_SCRIPT = `${REDIS_DIR}/redis-member.sh`;
const SENTINEL_SCRIPT = `${REDIS_DIR}/redis-sentinel.sh`;
const ENDPOINT_SCRIPT = "/usr/local/etc/haproxy/redis-endpoint.sh";
const ENDPOINT_CONFIG = "/usr/local/etc/haproxy/haproxy.cfg";
const EXPORTER_PASSWORDS = "/dev/shm/redis-exporter/passwords.json";

/** Names of the data members and Sentinels, so clients and exporters can list them. */
export function redisMembers(ctx: SectionContext<RedisSection>): Member[] {
  return members(ctx.topology, "redis", ctx.section.members);
}

export function sentinelMembers(ctx: SectionContext<RedisSection>): Member[] {
  return members(ctx.topology, "redis-sentinel", ctx.section.sentinels);
}

/** host:port of the stable endpoint (always the current master). */
export function redisEndpoint(): { host: string; port: number } {
  return { host: REDIS_ENDPOINT_SERVICE, port: REDIS_PORT };
}

/** host:port of every Sentinel, for Sentinel-aware clients. */
export function sentinelAddresses(ctx: SectionContext<RedisSection>): string[] {
  return sentinelMembers(ctx).map((s) => `${s.name}:${SENTINEL_PORT}`);
}

export interface RedisConfInput {
  readonly maxmemoryBytes: number;
  readonly maxmemoryPolicy: string;
  /** 0 disables; with several members, a master stops taking writes when it has lost every replica. */
  readonly minReplicasToWrite: number;
}

/** The redis.conf every data member includes; per-member values and passwords come from the entrypoint. */
export function redisConf(input: RedisConfInput): string {
  return [
    "# Shared by every data member. The entrypoint's runtime file includes this one and adds",
    "# bind, port, dir, the announced hostname, the passwords (from the secret file) and replicaof.",
    // With the default user off, protected mode has nothing to guard; "yes" keeps it so if a template ever turned default on without a password.
    "protected-mode yes",
    "appendonly yes",
    "appendfsync everysec",
    "aof-use-rdb-preamble yes",
    `maxmemory ${input.maxmemoryBytes}`,
    `maxmemory-policy ${input.maxmemoryPolicy}`,
    "replica-serve-stale-data yes",
    "replica-read-only yes",
    "repl-diskless-sync yes",
    `min-replicas-to-write ${input.minReplicasToWrite}`,
    "min-replicas-max-lag 10",
    "tcp-keepalive 60",
    "timeout 0",
    "loglevel notice",
    'logfile ""',
    "",
  ].join("\n");
}

export interface SentinelConfInput {
  readonly masterName: string;
  readonly downAfterMs: number;
  readonly failoverTimeoutMs: number;
}

/** The body of every Sentinel's config; the entrypoint writes the head (monitor line, identity) and the passwords. */
export function sentinelConf(input: SentinelConfInput): string {
  return [
    `sentinel down-after-milliseconds ${input.masterName} ${input.downAfterMs}`,
    `sentinel failover-timeout ${input.masterName} ${input.failoverTimeoutMs}`,
    `sentinel parallel-syncs ${input.masterName} 1`,
    "sentinel deny-scripts-reconfig yes",
    'logfile ""',
    "",
  ].join("\n");
}

export interface HaproxyCfgInput {
  readonly servers: readonly { readonly name: string; readonly host: string; readonly port: number }[];
  readonly listen: string;
  readonly monitorListen: string;
  /** DNS server that re-resolves member hostnames (Swarm's embedded DNS); task IPs change on restart. */
  readonly nameserver: string;
}

/** HAProxy in TCP mode: only the member that answers role:master receives connections. */
export function haproxyCfg(input: HaproxyCfgInput): string {
  const lines = [
    "# The stable redis endpoint: forwards to the one member that reports role:master.",
    "# The master check logs in as the password-less health user (PING and ROLE only).",
    "global",
    "  log stdout format raw local0 info",
    "  maxconn 4096",
    "",
    "defaults",
    "  mode tcp",
    "  log global",
    "  option tcplog",
    "  timeout connect 3s",
    "  timeout client 30m",
    "  timeout server 30m",
    "  timeout check 2s",
    "",
    "resolvers swarm",
    `  nameserver swarm ${input.nameserver}`,
    "  resolve_retries 3",
    "  timeout resolve 1s",
    "  timeout retry 1s",
    "  hold valid 5s",
    "  hold nx 5s",
    "  hold other 5s",
    "  hold refused 5s",
    "  hold timeout 5s",
    "  hold obsolete 5s",
    "",
    // Healthy only while exactly one member is up as master. Swarm puts a task behind the
    // service name only once it is healthy, so the first checks (servers start out up) and
    // a split brain never reach clients.
    "frontend monitor",
    "  mode http",
    `  bind ${input.monitorListen}`,
    "  monitor-uri /healthz",
    "  monitor fail unless { nbsrv(redis_master) eq 1 }",
    "",
    "frontend redis",
    `  bind ${input.listen}`,
    "  default_backend redis_master",
    "",
    "backend redis_master",
    "  option tcp-check",
    "  tcp-check connect",
    // The health user has no password and may run PING and ROLE only: nothing secret here.
    `  tcp-check send "AUTH ${REDIS_USERS.health} ${REDIS_USERS.health}\\r\\n"`,
    "  tcp-check expect string +OK",
    '  tcp-check send "ROLE\\r\\n"',
    // A master's ROLE answer starts *3 $6 master (a replica's: *5 $5 slave).
    "  tcp-check expect binary 2a330d0a24360d0a6d6173746572",
    '  tcp-check send "QUIT\\r\\n"',
    "  tcp-check expect string +OK",
    // A member that stops being master drops its clients, so they reconnect to the new one.
    ...input.servers.map((s) =>
      `  server ${s.name} ${s.host}:${s.port} check inter 1s fall 2 rise 2 on-marked-down shutdown-sessions resolvers swarm init-addr last,libc,none`),
    "",
  ];
  return lines.join("\n");
}

/** Stable Sentinel id from its name, so a restarted Sentinel is the same one to its peers. */
export function sentinelId(ctx: Pick<RedisContext, "config" | "prefix">, name: string): string {
  return createHash("sha1").update(`${ctx.config.stack}/${ctx.prefix}/${name}`).digest("hex");
}

const fileRef = (key: string): FileRef => ({ key, target: secretFile(key), mode: 0o444 });

/** PING as the password-less health user: no secret in the check's environment or argv. */
function healthPing(port: number): string[] {
  return ["CMD-SHELL", `redis-cli -p ${port} --user ${REDIS_USERS.health} --pass ${REDIS_USERS.health} --no-auth-warning ping | grep -q PONG`];
}

const ACL_LIB = `${REDIS_DIR}/redis-acl.sh`;
const MEMBER_ACL = `${REDIS_DIR}/users.acl.tmpl`;
const SENTINEL_ACL = `${REDIS_DIR}/sentinel-users.tmpl`;

const networks = [NET.platform, NET.backend];
const aliased = (name: string): ServiceSpec["networks"] => networks.map((key) => ({ key, aliases: [name] }));

export function redisSpecs(ctx: RedisContext): PlatformSpec {
  const r = ctx.section;
  const image = r.images.redis;
  const data = redisMembers(ctx);
  const sentinels = sentinelMembers(ctx);
  const firstMaster = `${data[0].name}:${REDIS_PORT}`;
  const sentinelList = sentinels.map((s) => `${s.name}:${SENTINEL_PORT}`).join(" ");
  const memberList = data.map((m) => `${m.name}:${REDIS_PORT}`).join(" ");
  const maxmemoryBytes = sizeToBytes(r.maxmemory);

  const apps = r.appUsers;
  const secrets: SecretSpec[] = [
    randomSecret(ctx.prefix, REDIS_PASSWORD_SECRET, 32, "Password of the Redis ACL user admin (operators and the exporter; never an application)."),
    randomSecret(ctx.prefix, REDIS_REPLICATION_SECRET, 32, "Password of the Redis ACL user replication (replicas to their master)."),
    randomSecret(ctx.prefix, REDIS_SENTINEL_SECRET, 32, "Password of the Redis ACL user sentinel (Sentinels to the members and to each other)."),
    randomSecret(ctx.prefix, REDIS_RATELIMIT_SECRET, 32, "Password of the Redis ACL user apisix-ratelimit (APISIX limit-count counters only)."),
    ...apps.map((u) => randomSecret(ctx.prefix, redisAppSecret(u), 32, `Password of the Redis ACL user ${u.name} (keys ${u.keyPatterns.join(" ")})`)),
  ];
  const memberUsers: [string, string][] = [
    [REDIS_USERS.admin, REDIS_PASSWORD_SECRET], [REDIS_USERS.replication, REDIS_REPLICATION_SECRET], [REDIS_USERS.sentinel, REDIS_SENTINEL_SECRET],
    [REDIS_USERS.rateLimit, REDIS_RATELIMIT_SECRET], ...apps.map((u): [string, string] => [u.name, redisAppSecret(u)]),
  ];
  const sentinelUsers: [string, string][] = [
    [REDIS_USERS.sentinel, REDIS_SENTINEL_SECRET], [REDIS_USERS.admin, REDIS_PASSWORD_SECRET], ...apps.map((u): [string, string] => [u.name, redisAppSecret(u)]),
  ];
  const aclLib = configSpec(ctx.prefix, "redis-acl-sh", familyFile(__dirname, "redis-acl.sh"));
  const memberAcl = configSpec(ctx.prefix, "redis-users-acl", memberAclTemplate(apps));
  const sentinelAcl = configSpec(ctx.prefix, "redis-sentinel-users", sentinelAclTemplate(apps));
  const conf = configSpec(ctx.prefix, "redis-conf", redisConf({
    maxmemoryBytes,
    maxmemoryPolicy: r.maxmemoryPolicy,
    minReplicasToWrite: r.members >= 3 ? 1 : 0,
  }));
  const memberScript = configSpec(ctx.prefix, "redis-member-sh", familyFile(__dirname, "redis-member.sh"));
  const sentinelBody = configSpec(ctx.prefix, "redis-sentinel-conf", sentinelConf({
    masterName: r.masterName,
    downAfterMs: r.downAfterMs,
    failoverTimeoutMs: r.failoverTimeoutMs,
  }));
  const sentinelScript = configSpec(ctx.prefix, "redis-sentinel-sh", familyFile(__dirname, "redis-sentinel.sh"));
  const endpointCfg = configSpec(ctx.prefix, "redis-endpoint-cfg", haproxyCfg({
    servers: data.map((m) => ({ name: m.name, host: m.name, port: REDIS_PORT })),
    listen: `:${REDIS_PORT}`,
    monitorListen: `:${REDIS_ENDPOINT_MONITOR_PORT}`,
    nameserver: "127.0.0.11:53",
  }));
  const endpointScript = configSpec(ctx.prefix, "redis-endpoint-sh", familyFile(__dirname, "redis-endpoint.sh"));
  const configs: ConfigSpec[] = [conf, memberScript, sentinelBody, sentinelScript, endpointCfg, endpointScript, aclLib, memberAcl, sentinelAcl];

  const dataServices: ServiceSpec[] = data.map((m) => ({
    ...pinnedMember(ctx, m, "redis"),
    image,
    entrypoint: [MEMBER_SCRIPT],
    env: {
      REDIS_ACL_LIB: ACL_LIB,
      REDIS_ACL_TEMPLATE: MEMBER_ACL,
      REDIS_ACL_USER_FILES: userPasswords(memberUsers),
      REDIS_REPLICATION_USER: REDIS_USERS.replication,
      REDIS_REPLICATION_PASSWORD_FILE: secretFile(REDIS_REPLICATION_SECRET),
      REDIS_HEALTH_USER: REDIS_USERS.health,
      REDIS_CONFIG: `${REDIS_DIR}/redis.conf`,
      REDIS_RUNTIME_DIR: "/run/redis",
      REDIS_DATA_DIR: "/data",
      REDIS_ANNOUNCE_HOST: m.name,
      REDIS_PORT: String(REDIS_PORT),
      REDIS_SENTINELS: sentinelList,
      REDIS_MASTER_NAME: r.masterName,
      REDIS_FIRST_MASTER: firstMaster,
      REDIS_DISCOVERY_TIMEOUT: "90",
    },
    user: "redis",
    hardening: LOCKED_DOWN,
    ports: [],
    listens: [{ port: REDIS_PORT, what: "data, replication" }],
    networks: aliased(m.name),
    secrets: memberUsers.map(([, key]) => fileRef(key)),
    configs: [
      { key: conf.key, target: `${REDIS_DIR}/redis.conf`, mode: 0o444 },
      { key: memberScript.key, target: MEMBER_SCRIPT, mode: 0o555 },
      { key: aclLib.key, target: ACL_LIB, mode: 0o444 },
      { key: memberAcl.key, target: MEMBER_ACL, mode: 0o444 },
    ],
    mounts: [
      { type: "volume", source: `${m.name}-data`, target: "/data", readOnly: false },
      { type: "tmpfs", source: "", target: "/run/redis", readOnly: false, tmpfsSizeBytes: 1 * MiB, tmpfsMode: 0o777 },
    ],
    resources: {
      limits: { cpus: 1, memoryBytes: 2 * maxmemoryBytes },
      reservations: { cpus: 0.1, memoryBytes: maxmemoryBytes },
    },
    healthcheck: { test: healthPing(REDIS_PORT), interval: "10s", timeout: "5s", retries: 3, startPeriod: "2m" },
    stopGracePeriod: "30s",
  }));

  const sentinelServices: ServiceSpec[] = sentinels.map((s) => ({
    ...pinnedMember(ctx, s, "sentinel"),
    image,
    entrypoint: [SENTINEL_SCRIPT],
    env: {
      REDIS_ACL_LIB: ACL_LIB,
      SENTINEL_ACL_TEMPLATE: SENTINEL_ACL,
      REDIS_ACL_USER_FILES: userPasswords(sentinelUsers),
      SENTINEL_USER: REDIS_USERS.sentinel,
      SENTINEL_PASSWORD_FILE: secretFile(REDIS_SENTINEL_SECRET),
      REDIS_HEALTH_USER: REDIS_USERS.health,
      SENTINEL_CONFIG: `${REDIS_DIR}/sentinel.conf`,
      SENTINEL_RUNTIME_DIR: "/run/sentinel",
      SENTINEL_ANNOUNCE_HOST: s.name,
      SENTINEL_PORT: String(SENTINEL_PORT),
      SENTINEL_MYID: sentinelId(ctx, s.name),
      REDIS_SENTINELS: sentinelList,
      REDIS_MEMBERS: memberList,
      REDIS_MASTER_NAME: r.masterName,
      REDIS_QUORUM: String(r.quorum),
      REDIS_FIRST_MASTER: firstMaster,
    },
    user: "redis",
    hardening: LOCKED_DOWN,
    ports: [],
    listens: [{ port: SENTINEL_PORT, what: "sentinel" }],
    networks: aliased(s.name),
    secrets: sentinelUsers.map(([, key]) => fileRef(key)),
    configs: [
      { key: sentinelBody.key, target: `${REDIS_DIR}/sentinel.conf`, mode: 0o444 },
      { key: sentinelScript.key, target: SENTINEL_SCRIPT, mode: 0o555 },
      { key: aclLib.key, target: ACL_LIB, mode: 0o444 },
      { key: sentinelAcl.key, target: SENTINEL_ACL, mode: 0o444 },
    ],
    mounts: [
      { type: "tmpfs", source: "", target: "/run/sentinel", readOnly: false, tmpfsSizeBytes: 1 * MiB, tmpfsMode: 0o777 },
    ],
    resources: {
      limits: { cpus: 0.25, memoryBytes: 64 * MiB },
      reservations: { cpus: 0.02, memoryBytes: 16 * MiB },
    },
    healthcheck: { test: healthPing(SENTINEL_PORT), interval: "10s", timeout: "5s", retries: 3, startPeriod: "30s" },
    stopGracePeriod: "10s",
  }));

  const endpoint: ServiceSpec = {
    name: REDIS_ENDPOINT_SERVICE,
    component: "redis-endpoint",
    image: r.images.haproxy,
    entrypoint: [ENDPOINT_SCRIPT],
    env: { HAPROXY_CONFIG: ENDPOINT_CONFIG },
    user: "haproxy",
    hardening: LOCKED_DOWN,
    mode: { replicas: r.endpointReplicas },
    endpointMode: ctx.config.docker.endpointMode,
    ports: [],
    listens: [{ port: REDIS_PORT, what: "master endpoint" }, { port: REDIS_ENDPOINT_MONITOR_PORT, what: "health" }],
    networks: aliased(REDIS_ENDPOINT_SERVICE),
    secrets: [],
    configs: [
      { key: endpointCfg.key, target: ENDPOINT_CONFIG, mode: 0o444 },
      { key: endpointScript.key, target: ENDPOINT_SCRIPT, mode: 0o555 },
    ],
    mounts: [],
    placement: { constraints: [SERVICE_NODE_CONSTRAINT], spread: ["node.labels.location"], maxReplicasPerNode: 1 },
    resources: {
      limits: { cpus: 0.5, memoryBytes: 128 * MiB },
      reservations: { cpus: 0.05, memoryBytes: 32 * MiB },
    },
    healthcheck: {
      test: ["CMD", "bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${REDIS_ENDPOINT_MONITOR_PORT} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '`],
      interval: "10s",
      timeout: "3s",
      retries: 3,
      startPeriod: "1m",
    },
    stopGracePeriod: "10s",
    restartPolicy: RESTART_ANY,
    update: STATELESS_UPDATE,
    rollback: rollbackOf(STATELESS_UPDATE),
    labels: platformLabels(ctx, "redis-endpoint"),
    stateful: false,
  };

  // Its own copy of the render script (the key keeps the name it was first deployed under).
  const render = renderSecretsConfig(ctx.prefix, "monitoring-render-secrets-sh");
  const exporterPasswords = configSpec(ctx.prefix, "redis-exporter-passwords", JSON.stringify(Object.fromEntries([
    ...data.map((m) => [`redis://${m.name}:${REDIS_PORT}`, "__REDIS_PASSWORD__"]),
    ...sentinels.map((m) => [`redis://${m.name}:${SENTINEL_PORT}`, "__REDIS_PASSWORD__"]),
  ]), null, 2) + "\n");
  const redisExporter: ServiceSpec = {
    ...frontDefaults(ctx, "redis-exporter"),
    name: "redis-exporter",
    component: "redis-exporter",
    image: r.images.redisExporter,
    // The exporter reads per-target passwords from a JSON file; it is rendered from the secret into memory at start.
    entrypoint: [
      "/bin/sh", RENDER_SCRIPT, "/platform/redis-exporter-passwords.json.tmpl", EXPORTER_PASSWORDS, "-",
      `__REDIS_PASSWORD__=${PASSWORD_PATH}`,
      "--", "/redis_exporter", `--redis.user=${REDIS_USERS.admin}`, `--redis.password-file=${EXPORTER_PASSWORDS}`, "--redis.addr=", `--web.listen-address=:${REDIS_EXPORTER_PORT}`,
    ],
    mode: { replicas: 1 },
    listens: [{ port: REDIS_EXPORTER_PORT, what: "metrics" }],
    networks: attach("redis-exporter", NET.backend),
    secrets: [{ key: REDIS_PASSWORD_SECRET, target: PASSWORD_PATH, mode: 0o400, uid: "59000", gid: "59000" }],
    configs: [
      { key: render.key, target: RENDER_SCRIPT, mode: 0o555 },
      { key: exporterPasswords.key, target: "/platform/redis-exporter-passwords.json.tmpl", mode: 0o444 },
    ],
    placement: { constraints: [SERVICE_NODE_CONSTRAINT], spread: [] },
    resources: { limits: { cpus: 0.25, memoryBytes: 64 * MiB }, reservations: { cpus: 0.01, memoryBytes: 16 * MiB } },
    healthcheck: { test: httpGetTest(REDIS_EXPORTER_PORT, "/health"), interval: "30s", timeout: "5s", retries: 3, startPeriod: "10s" },
    stopGracePeriod: "10s",
    update: STATELESS_UPDATE,
    rollback: rollbackOf(STATELESS_UPDATE),
  };

  return {
    networks: [],
    volumes: data.map((m) => memberVolume(ctx, m, "redis")),
    secrets,
    configs: [...configs, render, exporterPasswords],
    services: [...dataServices, ...sentinelServices, endpoint, redisExporter],
  };
}
