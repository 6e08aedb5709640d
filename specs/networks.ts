import type { NetworkSpec, PlatformSpec } from "./model";
import type { CoreConfig } from "../stacks/config";
import { cidrSize, formatIpv4, mustParseCidr } from "../lib/net";
import { EMPTY_PLATFORM } from "./model";
import { platformLabels, type SpecContext } from "./context";

/** Keys of the shared overlay networks. */
export const NET = {
  /** TLS edge <-> APISIX. */
  edge: "edge",
  /** APISIX, data services, Vault and the applications (attachable, so application stacks can join). */
  platform: "platform",
  /** Cluster-internal traffic of stateful members and scrapes: no route out. */
  backend: "backend",
} as const;

/**
 * The edge network's subnet: the last /24 of swarmAddrPool. Swarm allocates
 * automatic subnets from the start of the pool, so the last block stays free;
 * knowing it before deploy lets APISIX trust X-Real-IP from this range only.
 */
export function edgeNetworkSubnet(config: Pick<CoreConfig, "docker">): string {
  const pool = mustParseCidr(config.docker.swarmAddrPool);
  return `${formatIpv4(pool.network + cidrSize(pool) - 256n)}/24`;
}

export function overlay(ctx: SpecContext, key: string, opts: { attachable: boolean; internal: boolean; subnet?: string }): NetworkSpec {
  return {
    ...(opts.subnet ? { subnet: opts.subnet } : {}),
    key,
    name: `${ctx.prefix}_${key}`,
    driver: "overlay",
    attachable: opts.attachable,
    internal: opts.internal,
    encrypted: ctx.config.docker.overlayEncrypted,
    mtu: ctx.config.docker.overlayMtu,
    labels: platformLabels(ctx, "network"),
  };
}

export function networkSpecs(ctx: SpecContext): PlatformSpec {
  return {
    ...EMPTY_PLATFORM,
    networks: [
      overlay(ctx, NET.edge, { attachable: false, internal: false, subnet: edgeNetworkSubnet(ctx.config) }),
      overlay(ctx, NET.platform, { attachable: true, internal: false }),
      overlay(ctx, NET.backend, { attachable: false, internal: true }),
    ],
  };
}
