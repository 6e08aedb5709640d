/**
 * RabbitMQ cluster: rabbitmq-1..n, one pinned service per node with node name
 * rabbit@rabbitmq-N and its own volume. The cluster forms by itself on first
 * boot (classic peer discovery from the static node list, no join_cluster); the
 * virtual host's default queue type is quorum, set at definition import, so a
 * durable queue an application declares without x-queue-type is a quorum queue.
 * Management, Prometheus and Web STOMP plugins are on.
 */
import { configSpec, type FileRef, type PlatformSpec, type SecretSpec, type ServiceSpec } from "../../core/model";
import { NET } from "../../core/networks";
import { MiB, sizeToBytes } from "../../lib/size";
import type { FamilyContext, SectionContext } from "../kit/family";
import { familyFile } from "../kit/files";
import { members, memberVolume, pinnedMember, type Member } from "../kit/member";
import { randomSecret } from "../kit/secrets";
import type { RabbitmqSection } from "./settings";

export const RABBITMQ_PORTS = { amqp: 5672, management: 15672, prometheus: 15692, webStomp: 15674 } as const;
export const RABBITMQ_COOKIE_SECRET = "rabbitmq-erlang-cookie";
export const RABBITMQ_ADMIN_SECRET = "rabbitmq-admin-password";
/** The password of an application's user (user and virtual host named after the application). */
export const rabbitmqAppSecret = (app: string): string => `rabbitmq-app-${app}-password`;
export const RABBITMQ_PLUGINS = ["rabbitmq_management", "rabbitmq_prometheus", "rabbitmq_web_stomp"] as const;

const ETC = "/etc/rabbitmq";
const SCRIPT = `${ETC}/rabbitmq-node.sh`;
const RUNTIME_DIR = "/run/rabbitmq";

export function rabbitmqMembers(ctx: SectionContext<RabbitmqSection>): Member[] {
  return members(ctx.topology, "rabbitmq", ctx.section.nodes);
}

/** Erlang node name of a member: rabbit@<its stable hostname>. */
export function rabbitmqNodeName(member: Pick<Member, "name">): string {
  return `rabbit@${member.name}`;
}

export interface RabbitmqConfInput {
  readonly nodeNames: readonly string[];
  /** Address the listeners bind; empty for every interface (the container). */
  readonly bindIp: string;
  readonly ports: { readonly amqp: number; readonly management: number; readonly prometheus: number; readonly webStomp: number };
  /** Folder the entrypoint fills with the definitions to import at boot. */
  readonly definitionsDir: string;
  readonly memoryHighWatermarkBytes: number;
}

export function rabbitmqConf(input: RabbitmqConfInput): string {
  const at = (port: number): string => (input.bindIp ? `${input.bindIp}:${port}` : String(port));
  const ip = (key: string): string[] => (input.bindIp ? [`${key}.tcp.ip = ${input.bindIp}`] : []);
  return [
    "## The cluster forms from this static list on first boot; nobody runs join_cluster.",
    "cluster_formation.peer_discovery_backend = classic_config",
    ...input.nodeNames.map((n, i) => `cluster_formation.classic_config.nodes.${i + 1} = ${n}`),
    // A minority side stops instead of diverging; a single node is never a minority.
    `cluster_partition_handling = ${input.nodeNames.length >= 3 ? "pause_minority" : "ignore"}`,
    "",
    `listeners.tcp.default = ${at(input.ports.amqp)}`,
    ...ip("management"),
    `management.tcp.port = ${input.ports.management}`,
    ...ip("prometheus"),
    `prometheus.tcp.port = ${input.ports.prometheus}`,
    ...ip("web_stomp"),
    `web_stomp.tcp.port = ${input.ports.webStomp}`,
    // Web STOMP brings the STOMP plugin; its plain TCP listener is not used.
    "stomp.listeners.tcp = none",
    "",
    "## Virtual host (default queue type quorum) and administrator; the entrypoint assembles the folder.",
    `load_definitions = ${input.definitionsDir}`,
    "",
    `vm_memory_high_watermark.absolute = ${input.memoryHighWatermarkBytes}`,
    "disk_free_limit.absolute = 1GB",
    "log.console = true",
    "log.console.level = info",
    "log.file = false",
    "",
  ].join("\n");
}

/**
 * Definitions every node imports at boot: the platform's virtual host and one per
 * application, each with quorum as its default queue type. Users and their rights come
 * from the entrypoint (their passwords are secret files).
 */
export function rabbitmqDefinitions(apps: readonly string[] = []): string {
  const vhost = (name: string, description: string) => ({ name, description, default_queue_type: "quorum", metadata: { description, tags: [], default_queue_type: "quorum" } });
  return JSON.stringify({
    vhosts: [
      vhost("/", "Platform virtual host: durable queues declared without x-queue-type are quorum queues"),
      ...apps.map((a) => vhost(a, `Virtual host of the application ${a} (its user alone has rights here): quorum by default`)),
    ],
  }, null, 2) + "\n";
}

export function enabledPlugins(): string {
  return `[${RABBITMQ_PLUGINS.join(",")}].\n`;
}

export function rabbitmqSpecs(ctx: FamilyContext<RabbitmqSection>): PlatformSpec {
  const rc = ctx.section;
  const nodes = rabbitmqMembers(ctx);
  const memoryBytes = sizeToBytes(rc.memoryLimit);

  const cookie: SecretSpec = randomSecret(ctx.prefix, RABBITMQ_COOKIE_SECRET, 64, "Erlang cookie every RabbitMQ node shares (nodes and CLI tools authenticate with it).");
  const admin: SecretSpec = randomSecret(ctx.prefix, RABBITMQ_ADMIN_SECRET, 32, `Password of the RabbitMQ administrator ${rc.adminUser}.`);
  const conf = configSpec(ctx.prefix, "rabbitmq-conf", rabbitmqConf({
    nodeNames: nodes.map(rabbitmqNodeName),
    bindIp: "",
    ports: RABBITMQ_PORTS,
    definitionsDir: `${RUNTIME_DIR}/definitions`,
    memoryHighWatermarkBytes: Math.floor(memoryBytes * 0.6),
  }));
  const definitions = configSpec(ctx.prefix, "rabbitmq-definitions", rabbitmqDefinitions(rc.apps));
  const appSecrets: SecretSpec[] = rc.apps.map((a) => randomSecret(ctx.prefix, rabbitmqAppSecret(a), 32, `Password of the RabbitMQ user ${a} (virtual host ${a} only).`));
  const plugins = configSpec(ctx.prefix, "rabbitmq-plugins", enabledPlugins());
  const script = configSpec(ctx.prefix, "rabbitmq-node-sh", familyFile(__dirname, "rabbitmq-node.sh"));

  const secretRefs: FileRef[] = [
    { key: cookie.key, target: `/run/secrets/${cookie.key}`, mode: 0o444 },
    { key: admin.key, target: `/run/secrets/${admin.key}`, mode: 0o444 },
    ...appSecrets.map((s) => ({ key: s.key, target: `/run/secrets/${s.key}`, mode: 0o444 })),
  ];

  const services: ServiceSpec[] = nodes.map((m) => ({
    ...pinnedMember(ctx, m, "rabbitmq"),
    image: rc.images.rabbitmq,
    entrypoint: [SCRIPT],
    env: {
      RABBITMQ_NODENAME: rabbitmqNodeName(m),
      RABBITMQ_ERLANG_COOKIE_SECRET: `/run/secrets/${cookie.key}`,
      RABBITMQ_ADMIN_USER: rc.adminUser,
      RABBITMQ_ADMIN_PASSWORD_FILE: `/run/secrets/${admin.key}`,
      ...(rc.apps.length > 0 ? { RABBITMQ_APP_USER_FILES: rc.apps.map((a) => `${a}=/run/secrets/${rabbitmqAppSecret(a)}`).join(" ") } : {}),
      RABBITMQ_DEFINITIONS_TEMPLATE: `${ETC}/platform-definitions.json`,
      RABBITMQ_RUNTIME_DIR: RUNTIME_DIR,
      RABBITMQ_CONFIG_FILE: `${ETC}/rabbitmq.conf`,
      RABBITMQ_ENABLED_PLUGINS_FILE: `${ETC}/enabled_plugins`,
    },
    user: "rabbitmq",
    ports: [],
    listens: [
      { port: RABBITMQ_PORTS.amqp, what: "AMQP" },
      { port: RABBITMQ_PORTS.management, what: "management API" },
      { port: RABBITMQ_PORTS.prometheus, what: "metrics" },
      { port: RABBITMQ_PORTS.webStomp, what: "Web STOMP" },
      { port: 4369, what: "epmd" },
      { port: 25672, what: "Erlang distribution" },
    ],
    networks: [NET.platform, NET.backend].map((key) => ({ key, aliases: [m.name] })),
    secrets: secretRefs,
    configs: [
      { key: conf.key, target: `${ETC}/rabbitmq.conf`, mode: 0o444 },
      { key: definitions.key, target: `${ETC}/platform-definitions.json`, mode: 0o444 },
      { key: plugins.key, target: `${ETC}/enabled_plugins`, mode: 0o444 },
      { key: script.key, target: SCRIPT, mode: 0o555 },
    ],
    mounts: [
      { type: "volume", source: `${m.name}-data`, target: "/var/lib/rabbitmq", readOnly: false },
      { type: "tmpfs", source: "", target: RUNTIME_DIR, readOnly: false, tmpfsSizeBytes: 1 * MiB, tmpfsMode: 0o777 },
    ],
    resources: {
      limits: { cpus: 2, memoryBytes },
      reservations: { cpus: 0.25, memoryBytes: Math.floor(memoryBytes / 2) },
    },
    healthcheck: { test: ["CMD", "rabbitmq-diagnostics", "-q", "ping"], interval: "30s", timeout: "20s", retries: 3, startPeriod: "3m" },
    stopGracePeriod: "1m",
  }));

  return {
    networks: [],
    volumes: nodes.map((m) => memberVolume(ctx, m, "rabbitmq")),
    secrets: [cookie, admin, ...appSecrets],
    configs: [conf, definitions, plugins, script],
    services,
  };
}
