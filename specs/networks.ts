import type { NetworkSpec, PlatformSpec } from "./model";
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

export function overlay(ctx: SpecContext, key: string, opts: { attachable: boolean; internal: boolean }): NetworkSpec {
  return {
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
      overlay(ctx, NET.edge, { attachable: false, internal: false }),
      overlay(ctx, NET.platform, { attachable: true, internal: false }),
      overlay(ctx, NET.backend, { attachable: false, internal: true }),
    ],
  };
}
