/**
 * The Swarm bootstrap of the end-to-end stack: exactly the steps, scripts and inputs
 * `bootstrapSteps` gives the Pulumi program, in its dependency order and as parallel as
 * it allows. Only the transport differs: instead of SSH, the script text (variables as
 * exports, then the script, as `scriptInput` builds it) goes to `bash -s` inside the
 * node's network namespace, with DOCKER_HOST at the node's daemon.
 *
 * The local daemons are not cloud-init provisioned, so the node environment carries
 * SKIP_CLOUD_INIT_WAIT=1 (wait-ready.sh would otherwise wait for this machine's own
 * cloud-init); the scripts' inputs are unchanged. There are no Hetzner servers either: a
 * step's server-id variables get `localServerId(node)`.
 */
import { bootstrapSteps, scriptInput, type BootstrapStep, type TokenName } from "../core/bootstrap";
import type { CoreConfig } from "../stacks/config";
import type { Topology } from "../core/topology";
import type { LocalSwarm, RunResult } from "./support/local-swarm";

/** The stand-in for a node's Hetzner server id (the SERVER_ID the scripts label and select by). */
export function localServerId(node: string): string {
  return `local-${node}`;
}

export interface BootstrapRun {
  readonly step: BootstrapStep;
  readonly result: RunResult;
}

function describe(step: BootstrapStep, result: RunResult): string {
  // stdout of a step that captures a secret is the secret: never shown.
  const stdout = step.capturesSecret ? "(secret output not shown)" : result.stdout.trim();
  return `bootstrap step ${step.id} (${step.script} on ${step.runOn}) exited ${result.code ?? result.signal}\n${stdout}\n${result.stderr.trim()}`;
}

export async function runBootstrap(
  swarm: LocalSwarm,
  config: CoreConfig,
  topology: Topology,
  log: (line: string) => void,
): Promise<BootstrapRun[]> {
  const steps = bootstrapSteps(config, topology);
  const captured = new Map<TokenName, string>();
  const done = new Map<string, Promise<void>>();
  const runs: BootstrapRun[] = [];
  const byId = new Map(steps.map((s) => [s.id, s]));

  const run = (step: BootstrapStep): Promise<void> => {
    const existing = done.get(step.id);
    if (existing) return existing;
    const promise = (async () => {
      await Promise.all(
        step.after.map((id) => {
          const dep = byId.get(id);
          if (!dep) throw new Error(`bootstrap step ${step.id} waits for unknown step ${id}`);
          return run(dep);
        }),
      );
      const env: Record<string, string> = { ...step.env };
      for (const [name, node] of Object.entries(step.serverIdEnv)) env[name] = localServerId(node);
      const secrets: Record<string, string> = {};
      for (const [name, source] of Object.entries(step.secretEnv)) {
        const value = captured.get(source);
        if (!value) throw new Error(`bootstrap step ${step.id} needs ${source}, which no step captured`);
        secrets[name] = value;
      }
      const result = await swarm.exec(step.runOn, ["bash", "-s"], { SKIP_CLOUD_INIT_WAIT: "1" }, {
        input: scriptInput(step.script, env, secrets),
        timeoutMs: 300_000,
      });
      runs.push({ step, result });
      if (result.code !== 0) throw new Error(describe(step, result));
      if (step.kind === "token") captured.set(step.token, result.stdout.trim());
      log(`bootstrap ${step.id} done (${(result.durationMs / 1000).toFixed(1)} s)`);
    })();
    done.set(step.id, promise);
    return promise;
  };

  await Promise.all(steps.map(run));
  return runs;
}
