/**
 * etcd, APISIX's configuration store: either external endpoints from config
 * (an existing cluster shared under etcdPrefix) or members etcd-1..n run by the
 * platform, one pinned service each with its own volume, on the internal
 * etcd network only.
 */
import { EMPTY_PLATFORM, type PlatformSpec, type ServiceSpec } from "../../core/model";
import { NET } from "../../core/networks";
import { GiB, MiB } from "../../lib/size";
import type { FamilyContext, SectionContext } from "../kit/family";
import { members, memberVolume, pinnedMember, type Member } from "../kit/member";
import type { EtcdSection } from "./settings";

export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
const DATA_MOUNT = "/var/lib/etcd";

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
  return {
    ...EMPTY_PLATFORM,
    volumes: list.map((m) => memberVolume(ctx, m, "etcd")),
    services,
  };
}
