import type { StackConfig } from "../stacks/config";
import type { Topology } from "../core/topology";
import { swarmLabels } from "../core/naming";

/** What every spec builder reads: the validated config and the node layout. */
export interface SpecContext {
  readonly config: StackConfig;
  readonly topology: Topology;
  /** Prefix of every Swarm object name (networks, volumes, configs, secrets): the namePrefix. */
  readonly prefix: string;
}

export function specContext(config: StackConfig, topology: Topology): SpecContext {
  return { config, topology, prefix: config.namePrefix };
}

/** Labels on every Swarm object, so `docker service ls --filter label=...` finds the platform. */
export function platformLabels(ctx: SpecContext, component: string): Record<string, string> {
  return swarmLabels(ctx.config.stack, component);
}
