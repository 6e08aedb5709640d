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
  /** Cluster-internal traffic of stateful members and scrapes: no route out. */
  backend: "backend",
} as const;

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

export function overlay(config: NetworkConfig, key: string, opts: { attachable: boolean; internal: boolean; subnet?: string }): NetworkSpec {
  return {
    ...(opts.subnet ? { subnet: opts.subnet } : {}),
    key,
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
    ],
  };
}
