/** The parts services share unless they say otherwise, and their labels. */
import { swarmLabels } from "../../core/naming";
import { RESTART_ANY, type ServiceSpec } from "../../core/model";
import type { StackConfig } from "../../stacks/config";

export interface LabelContext {
  readonly config: Pick<StackConfig, "stack">;
  readonly prefix: string;
}

/** Labels of a family's Swarm objects (core/naming.ts decides them). */
export function platformLabels(ctx: LabelContext, component: string): Record<string, string> {
  return swarmLabels(ctx.config.stack, component);
}

/** Network attachment under the service's own name, so `<name>` and `tasks.<name>` resolve whatever the renderer prefixes. */
export function attach(name: string, ...keys: string[]): ServiceSpec["networks"] {
  return keys.map((key) => ({ key, aliases: [name] }));
}

/** Fields every stateless front service shares unless it says otherwise. */
export function frontDefaults(
  ctx: LabelContext & { readonly config: Pick<StackConfig, "docker"> },
  component: string,
): Pick<ServiceSpec, "env" | "endpointMode" | "ports" | "secrets" | "configs" | "mounts" | "restartPolicy" | "labels" | "stateful" | "stopGracePeriod"> {
  return {
    env: {},
    endpointMode: ctx.config.docker.endpointMode,
    ports: [],
    secrets: [],
    configs: [],
    mounts: [],
    restartPolicy: RESTART_ANY,
    labels: platformLabels(ctx, component),
    stateful: false,
    stopGracePeriod: "30s",
  };
}
