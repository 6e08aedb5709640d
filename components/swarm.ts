import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import type { StackConfig } from "../stacks/config";
import type { Topology } from "../core/topology";
import { bootstrapSteps, scriptInput, REMOTE_SHELL, type BootstrapStep } from "../core/bootstrap";
import type { ServerHandle } from "./cluster";

export interface SwarmArgs {
  readonly config: StackConfig;
  readonly topology: Topology;
  readonly servers: Readonly<Record<string, ServerHandle>>;
}

/** SSH retries while a new server boots: sshd moves to the configured port only when cloud-init is done. */
export const DIAL = { perDialTimeout: 15, dialErrorLimit: 80 } as const;

/** Options the Docker provider passes to ssh (it authenticates through ssh-agent). */
export const DOCKER_SSH_OPTS = ["-o", "StrictHostKeyChecking=accept-new", "-o", "ServerAliveInterval=15", "-o", "ConnectTimeout=20"] as const;

/**
 * Bootstraps the Swarm over SSH: waits for each node, `swarm init` on the first
 * manager, joins the others over the private network, applies labels and
 * availability, and hands out a Docker provider that talks to a manager. Every
 * step is a script from scripts/bootstrap, idempotent and re-run only when its
 * inputs change.
 */
export class Swarm extends pulumi.ComponentResource {
  public readonly dockerProvider: docker.Provider;
  /** Join tokens: secrets, never printed. */
  public readonly managerToken: pulumi.Output<string>;
  public readonly workerToken: pulumi.Output<string> | undefined;
  public readonly commands: Readonly<Record<string, command.remote.Command>>;

  constructor(name: string, args: SwarmArgs, opts?: pulumi.ComponentResourceOptions) {
    super("swarm:bootstrap:Swarm", name, {}, opts);
    const { config, topology, servers } = args;
    const privateKey = pulumi.secret(config.ssh.privateKey);
    const connectionTo = (node: string): command.types.input.remote.ConnectionArgs => ({
      host: servers[node].publicIp,
      port: config.ssh.port,
      user: config.ssh.user,
      privateKey,
      ...DIAL,
    });

    const steps = bootstrapSteps(config, topology);
    const commands: Record<string, command.remote.Command> = {};
    const tokens: Partial<Record<"managerToken" | "workerToken", pulumi.Output<string>>> = {};
    for (const step of steps) {
      const dependsOn = [
        ...step.after.map((id) => commands[id]),
        // A node's private address exists only once its network attachment does.
        servers[step.node].attachment,
        servers[step.runOn].attachment,
      ];
      commands[step.id] = this.stepCommand(`${name}-${step.id}`, step, connectionTo, tokens, dependsOn, servers[step.node].server.id);
      if (step.kind === "token") tokens[step.token] = pulumi.secret(commands[step.id].stdout.apply((s) => s.trim()));
    }
    this.commands = commands;
    this.managerToken = tokens.managerToken!;
    this.workerToken = tokens.workerToken;

    const nodeSteps = steps.filter((s) => s.kind === "config").map((s) => commands[s.id]);
    const leader = servers[topology.leader.name];
    this.dockerProvider = new docker.Provider(`${name}-docker`, {
      host: pulumi.interpolate`ssh://${config.ssh.user}@${leader.publicIp}:${config.ssh.port}`,
      sshOpts: [...DOCKER_SSH_OPTS],
    }, { parent: this, dependsOn: nodeSteps });

    this.registerOutputs({ dockerProvider: this.dockerProvider, managerToken: this.managerToken, workerToken: this.workerToken });
  }

  private stepCommand(
    resourceName: string,
    step: BootstrapStep,
    connectionTo: (node: string) => command.types.input.remote.ConnectionArgs,
    tokens: Partial<Record<"managerToken" | "workerToken", pulumi.Output<string>>>,
    dependsOn: pulumi.Resource[],
    serverId: pulumi.Output<string>,
  ): command.remote.Command {
    const secretNames = Object.keys(step.secretEnv);
    const stdin: pulumi.Input<string> = secretNames.length === 0
      ? scriptInput(step.script, step.env)
      : pulumi.secret(pulumi.all(secretNames.map((k) => tokens[step.secretEnv[k]]!)).apply((values) =>
        scriptInput(step.script, { ...step.env, ...Object.fromEntries(secretNames.map((k, i) => [k, values[i]])) })));
    return new command.remote.Command(resourceName, {
      connection: connectionTo(step.runOn),
      create: REMOTE_SHELL,
      // With an update command, a changed input re-runs the idempotent script in place;
      // without one the provider would replace the resource and run its delete (drain) first.
      update: REMOTE_SHELL,
      stdin,
      ...(step.onDelete ? { delete: `${REMOTE_SHELL} <<'SWARM_PLATFORM_EOF'\n${scriptInput(step.onDelete.script, step.onDelete.env)}\nSWARM_PLATFORM_EOF` } : {}),
      // A replaced server (new id) must be waited for and joined again.
      triggers: [serverId, ...step.triggers],
      // Token steps print the token on stdout: keep it out of the logs and encrypted in state.
      logging: step.capturesSecret ? "stderr" : "stdoutAndStderr",
    }, {
      parent: this,
      dependsOn,
      additionalSecretOutputs: step.capturesSecret ? ["stdout"] : [],
      deleteBeforeReplace: false,
    });
  }
}
