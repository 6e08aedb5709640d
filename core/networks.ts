/**
 * The shared overlay networks every family attaches to. Their keys are the
 * vocabulary services use (`NET.backend`); their names and labels come from
 * core/naming.ts.
 */
import type { CoreConfig } from "../stacks/config";
import { cidrSize, formatIpv4, mustParseCidr } from "../lib/net";
import { EMPTY_PLATFORM, type NetworkSpec, type PlatformSpec } from "./model";
import { swarmLabels, swarmObjectName } from "./naming";

/** Keys of the shared overlay networks. */
export const NET = {
  /** TLS edge <-> APISIX. */
  edge: "edge",
  /** APISIX, data services, Vault and the applications (attachable, so application stacks can join). */
  platform: "platform",
  /** Cluster-internal traffic of stateful members (replication, Raft) and their scrapes: no route out. */
  backend: "backend",
  /** etcd's members and its only clients (APISIX, its dashboard) and Prometheus' scrape: no route out. */
  etcd: "etcd",
  /**
   * Prometheus, Alertmanager, Grafana and the host exporters. A route out (Alertmanager's
   * webhook); attachable, so an operator's tunnel container can join it (that takes root on
   * a node, which owns the node anyway).
   */
  monitoring: "monitoring",
  /** The APISIX Admin API and the routes applier only, on a fixed subnet: allow_admin admits that range and nothing else. */
  admin: "admin",
} as const;

/**
 * The VXLAN id (VNI) of each shared overlay network. Pinned, because Docker adds the
 * VNI it allocated to the network's options, and the options force a replacement of
 * the network (and of every service attached to it) when they differ from the
 * program's. Docker honours a VNI the request names and refuses one already in use
 * in the swarm; it allocates automatic ones from 4096 up (every network without a
 * pin, `ingress` included), so the pinned ones stay below 4096 and can never meet
 * an automatic one. One platform per swarm, so the table is the same for every
 * stack. A new shared network takes the next free number; a number never changes
 * (a change replaces the network). Sources: docs/provider-facts.md §3 fact 6.
 */
export const OVERLAY_VNI: Readonly<Record<(typeof NET)[keyof typeof NET], number>> = {
  edge: 1001,
  platform: 1002,
  backend: 1003,
  etcd: 1004,
  monitoring: 1005,
  admin: 1006,
};

/** Docker's option key of an overlay network's VXLAN ids (comma-separated, one per subnet). */
export const VXLAN_ID_OPTION = "com.docker.network.driver.overlay.vxlanid_list";

/** The lowest VNI Docker allocates by itself: pins stay below it. */
export const DOCKER_AUTO_VNI_START = 4096;

type NetworkConfig = Pick<CoreConfig, "stack" | "namePrefix" | "docker">;

/**
 * The edge network's subnet: the last /24 of swarmAddrPool. Swarm allocates
 * automatic subnets from the start of the pool, so the last block stays free;
 * knowing it before deploy lets APISIX trust X-Real-IP from this range only.
 */
export function edgeNetworkSubnet(config: Pick<CoreConfig, "docker">): string {
  const pool = mustParseCidr(config.docker.swarmAddrPool);
  return `${formatIpv4(pool.network + cidrSize(pool) - 256n)}/24`;
}

/**
 * The admin network's subnet: the /24 before the edge network's, equally clear of
 * Swarm's automatic allocations (swarmAddrPool is at least a /20: 16 blocks). APISIX's
 * allow_admin admits exactly this range.
 */
export function adminNetworkSubnet(config: Pick<CoreConfig, "docker">): string {
  const pool = mustParseCidr(config.docker.swarmAddrPool);
  return `${formatIpv4(pool.network + cidrSize(pool) - 512n)}/24`;
}

/** The address Docker's IPAM gives a subnet's gateway when none is named: the first host. */
export function subnetGateway(subnet: string): string {
  return formatIpv4(mustParseCidr(subnet).network + 1n);
}

export function overlay(config: NetworkConfig, key: keyof typeof OVERLAY_VNI, opts: { attachable: boolean; internal: boolean; subnet?: string }): NetworkSpec {
  return {
    ...(opts.subnet ? { subnet: opts.subnet, gateway: subnetGateway(opts.subnet) } : {}),
    key,
    vni: OVERLAY_VNI[key],
    name: swarmObjectName(config.namePrefix, key),
    driver: "overlay",
    attachable: opts.attachable,
    internal: opts.internal,
    encrypted: config.docker.overlayEncrypted,
    mtu: config.docker.overlayMtu,
    labels: swarmLabels(config.stack, "network"),
  };
}

export function networkSpecs(config: NetworkConfig): PlatformSpec {
  return {
    ...EMPTY_PLATFORM,
    networks: [
      overlay(config, NET.edge, { attachable: false, internal: false, subnet: edgeNetworkSubnet(config) }),
      overlay(config, NET.platform, { attachable: true, internal: false }),
      overlay(config, NET.backend, { attachable: false, internal: true }),
      overlay(config, NET.etcd, { attachable: false, internal: true }),
      overlay(config, NET.monitoring, { attachable: true, internal: false }),
      overlay(config, NET.admin, { attachable: false, internal: true, subnet: adminNetworkSubnet(config) }),
    ],
  };
}
