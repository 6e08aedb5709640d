/**
 * etcd, APISIX's configuration store: either external endpoints from config
 * (an existing cluster shared under etcdPrefix) or members etcd-1..n run by the
 * platform, one pinned service each with its own volume, on the internal
 * etcd network only.
 */
import { configSpec, EMPTY_PLATFORM, LOCKED_DOWN, rollbackOf, STATELESS_UPDATE, type FileRef, type PlatformSpec, type ServiceSpec } from "../../core/model";
import { NET } from "../../core/networks";
import { SERVICE_NODE_CONSTRAINT } from "../../core/placement";
import { GiB, MiB } from "../../lib/size";
import type { FamilyContext, SectionContext } from "../kit/family";
import { familyFile } from "../kit/files";
import { frontDefaults } from "../kit/front";
import { members, memberVolume, pinnedMember, type Member } from "../kit/member";
import { randomSecret } from "../kit/secrets";
import { CURL_IMAGE, CURL_UID } from "../kit/tools-image";
import type { EtcdSection } from "./settings";

export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
const DATA_MOUNT = "/var/lib/etcd";

/** The secret of root's password: only the etcd-auth job holds it (and the operators, as a stack output). */
export const ETCD_ROOT_SECRET = "etcd-root-password";
/** The role every client user holds: read and write on the APISIX prefix, nothing else. */
export const ETCD_CLIENT_ROLE = "apisix";

/** The etcd users of the platform's clients, each with its own password secret. */
export const ETCD_CLIENTS = {
  apisix: { user: "apisix", secret: "etcd-apisix-password" },
  dashboard: { user: "apisix-dashboard", secret: "etcd-apisix-dashboard-password" },
} as const;

export type EtcdClient = keyof typeof ETCD_CLIENTS;

/**
 * The user and password secret a client logs in with, when the platform runs etcd
 * (and so turns its authentication on); undefined for external endpoints, whose
 * users their operators keep.
 */
export function etcdClientAuth(ctx: SectionContext<EtcdSection>, client: EtcdClient): { readonly user: string; readonly secret: string } | undefined {
  return etcdMembers(ctx).length > 0 ? ETCD_CLIENTS[client] : undefined;
}

/**
 * The role's key range: [prefix, prefix with its last byte + 1), etcd's form of "every
 * key that starts with prefix" (etcdctl's --prefix computes the same), base64 as the
 * JSON gateway takes keys.
 */
export function prefixRange(prefix: string): { readonly key: string; readonly rangeEnd: string } {
  const bytes = Buffer.from(prefix, "utf8");
  const end = Buffer.from(bytes);
  end[end.length - 1] += 1;
  return { key: bytes.toString("base64"), rangeEnd: end.toString("base64") };
}

export function etcdMembers(ctx: SectionContext<EtcdSection>): Member[] {
  if (ctx.section.externalEndpoints.length > 0) return [];
  return members(ctx.topology, "etcd", ctx.section.members);
}

/** Client URLs APISIX connects to. */
export function etcdEndpoints(ctx: SectionContext<EtcdSection>): string[] {
  const external = ctx.section.externalEndpoints;
  if (external.length > 0) return [...external];
  return etcdMembers(ctx).map((m) => `http://${m.name}:${ETCD_CLIENT_PORT}`);
}

export function etcdPrefix(ctx: Pick<SectionContext<EtcdSection>, "section">): string {
  return ctx.section.prefix;
}

export interface EtcdMemberInput {
  readonly name: string;
  /** Every member: name and the peer URL the others reach it at. */
  readonly cluster: readonly { readonly name: string; readonly peerUrl: string }[];
  readonly clientUrl: string;
  readonly listenClientUrls: string;
  readonly listenPeerUrls: string;
  readonly clusterToken: string;
  readonly dataDir: string;
}

/** One member's configuration as etcd reads it from ETCD_* variables (no secrets among them). */
export function etcdMemberEnv(input: EtcdMemberInput): Record<string, string> {
  const self = input.cluster.find((c) => c.name === input.name);
  if (!self) throw new Error(`etcd member ${input.name} is not in its own cluster list`);
  return {
    ETCD_NAME: input.name,
    ETCD_DATA_DIR: input.dataDir,
    ETCD_LISTEN_CLIENT_URLS: input.listenClientUrls,
    ETCD_ADVERTISE_CLIENT_URLS: input.clientUrl,
    ETCD_LISTEN_PEER_URLS: input.listenPeerUrls,
    ETCD_INITIAL_ADVERTISE_PEER_URLS: self.peerUrl,
    ETCD_INITIAL_CLUSTER: input.cluster.map((c) => `${c.name}=${c.peerUrl}`).join(","),
    // Only read on the very first start; afterwards the data directory holds the membership.
    ETCD_INITIAL_CLUSTER_STATE: "new",
    ETCD_INITIAL_CLUSTER_TOKEN: input.clusterToken,
    ETCD_AUTO_COMPACTION_MODE: "periodic",
    ETCD_AUTO_COMPACTION_RETENTION: "1h",
    ETCD_QUOTA_BACKEND_BYTES: String(2 * GiB),
    // Members sit in different locations behind an encrypted overlay: more slack than the LAN defaults.
    ETCD_HEARTBEAT_INTERVAL: "250",
    ETCD_ELECTION_TIMEOUT: "2500",
  };
}

export function etcdSpecs(ctx: FamilyContext<EtcdSection>): PlatformSpec {
  const list = etcdMembers(ctx);
  if (list.length === 0) return EMPTY_PLATFORM;
  const cluster = list.map((m) => ({ name: m.name, peerUrl: `http://${m.name}:${ETCD_PEER_PORT}` }));
  const services: ServiceSpec[] = list.map((m) => ({
    ...pinnedMember(ctx, m, "etcd", { together: true }),
    image: ctx.section.images.etcd,
    entrypoint: ["etcd"],
    // etcd writes only to its volume and needs no capability.
    hardening: LOCKED_DOWN,
    env: etcdMemberEnv({
      name: m.name,
      cluster,
      clientUrl: `http://${m.name}:${ETCD_CLIENT_PORT}`,
      listenClientUrls: `http://0.0.0.0:${ETCD_CLIENT_PORT}`,
      listenPeerUrls: `http://0.0.0.0:${ETCD_PEER_PORT}`,
      clusterToken: `${ctx.prefix}-etcd`,
      // A folder inside the volume: etcd creates it owner-only, as it insists.
      dataDir: `${DATA_MOUNT}/data`,
    }),
    ports: [],
    listens: [{ port: ETCD_CLIENT_PORT, what: "client (keys, metrics)" }, { port: ETCD_PEER_PORT, what: "peer (Raft)" }],
    // Its own network: only its clients (APISIX, the dashboard) and Prometheus share it.
    networks: [{ key: NET.etcd, aliases: [m.name] }],
    secrets: [],
    configs: [],
    mounts: [{ type: "volume", source: `${m.name}-data`, target: DATA_MOUNT, readOnly: false }],
    resources: {
      limits: { cpus: 1, memoryBytes: 1 * GiB },
      reservations: { cpus: 0.1, memoryBytes: 128 * MiB },
    },
    // Not `etcdctl endpoint health`: Swarm publishes a task's DNS name only once it is
    // healthy, members find each other by those names, and a member is "healthy" to etcdctl
    // only once the cluster has a leader, so a first formation never gets there (seen on a
    // real Swarm). The official image has no shell for a port probe; member and quorum
    // health are watched by Prometheus (etcd alerts), not by the container health check.
    healthcheck: {
      test: ["CMD", "etcd", "--version"],
      interval: "10s",
      timeout: "5s",
      retries: 3,
      startPeriod: "30s",
    },
    stopGracePeriod: "30s",
  }));
  const auth = etcdAuthSpecs(ctx, list);
  return {
    ...EMPTY_PLATFORM,
    volumes: list.map((m) => memberVolume(ctx, m, "etcd")),
    secrets: auth.secrets,
    configs: auth.configs,
    services: [...services, ...auth.services],
  };
}

const AUTH_SCRIPT = "/platform/etcd-auth.sh";
const AUTH_READY = "/tmp/etcd-auth.applied";

/**
 * Authentication on the platform's etcd: the etcd-auth job turns it on and keeps a
 * root user, the role limited to APISIX's prefix and one user per client
 * (files/etcd-auth.sh). The official etcd image has no shell, so the job runs in the
 * curl image and speaks to etcd's JSON gateway, as APISIX itself does.
 */
function etcdAuthSpecs(ctx: FamilyContext<EtcdSection>, list: readonly Member[]): Pick<PlatformSpec, "secrets" | "configs" | "services"> {
  const script = configSpec(ctx.prefix, "etcd-auth-sh", familyFile(__dirname, "etcd-auth.sh"));
  const clients = Object.values(ETCD_CLIENTS);
  const file = (key: string): FileRef => ({ key, target: `/run/secrets/${key}`, mode: 0o400, uid: CURL_UID, gid: CURL_UID });
  const range = prefixRange(etcdPrefix(ctx));
  const job: ServiceSpec = {
    ...frontDefaults(ctx, "etcd-auth"),
    name: "etcd-auth",
    component: "etcd-auth",
    image: CURL_IMAGE,
    entrypoint: ["/bin/sh", AUTH_SCRIPT],
    // Its scratch files (mktemp) and the ready file live on a memory-only /tmp.
    hardening: LOCKED_DOWN,
    env: {
      ETCD_URLS: list.map((m) => `http://${m.name}:${ETCD_CLIENT_PORT}`).join(" "),
      ROOT_PASSWORD_FILE: `/run/secrets/${ETCD_ROOT_SECRET}`,
      ROLE: ETCD_CLIENT_ROLE,
      KEY_B64: range.key,
      RANGE_END_B64: range.rangeEnd,
      USERS: clients.map((c) => `${c.user}=/run/secrets/${c.secret}`).join(" "),
      APPLY_INTERVAL: "600",
      RETRY_DELAY: "5",
      READY_FILE: AUTH_READY,
    },
    mode: { replicas: 1 },
    networks: [{ key: NET.etcd, aliases: ["etcd-auth"] }],
    secrets: [file(ETCD_ROOT_SECRET), ...clients.map((c) => file(c.secret))],
    configs: [{ key: script.key, target: AUTH_SCRIPT, mode: 0o555 }],
    mounts: [{ type: "tmpfs", source: "", target: "/tmp", readOnly: false, tmpfsSizeBytes: 1 * MiB, tmpfsMode: 0o777 }],
    placement: { constraints: [SERVICE_NODE_CONSTRAINT], spread: [] },
    resources: { limits: { cpus: 0.25, memoryBytes: 64 * MiB }, reservations: { cpus: 0.01, memoryBytes: 16 * MiB } },
    healthcheck: { test: ["CMD", "test", "-f", AUTH_READY], interval: "10s", timeout: "3s", retries: 3, startPeriod: "3m" },
    stopGracePeriod: "5s",
    update: STATELESS_UPDATE,
    rollback: rollbackOf(STATELESS_UPDATE),
  };
  return {
    secrets: [
      randomSecret(ctx.prefix, ETCD_ROOT_SECRET, 32, "etcd root password (the etcd-auth job and operators only)"),
      ...clients.map((c) => randomSecret(ctx.prefix, c.secret, 32, `etcd password of user ${c.user} (role ${ETCD_CLIENT_ROLE}: read/write on the APISIX prefix)`)),
    ],
    configs: [script],
    services: [job],
  };
}
