import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import type { StackConfig } from "../stacks/config";
import type { Topology } from "../core/topology";
import {
  bootstrapSteps, deleteCommand, dialErrorLimitFor, scriptInput, stepTriggers, DIAL_BUDGET_S, REMOTE_SHELL,
  type BootstrapStep, type TokenName,
} from "../core/bootstrap";
import { dockerSshOpts } from "../core/ssh-config";
import type { ServerHandle } from "./cluster";

export interface SwarmArgs {
  readonly config: StackConfig;
  readonly topology: Topology;
  readonly servers: Readonly<Record<string, ServerHandle>>;
}

/**
 * SSH dial settings. A node's first contact retries until cloud-init has moved sshd to the
 * configured port (which can take as long as the cloud-init wait); later steps only ride out an
 * sshd restart or a dropped handshake.
 */
export const DIAL = {
  firstContact: { perDialTimeout: 15, dialErrorLimit: dialErrorLimitFor(DIAL_BUDGET_S.firstContact) },
  later: { perDialTimeout: 15, dialErrorLimit: dialErrorLimitFor(DIAL_BUDGET_S.later) },
} as const;

/**
 * Bootstraps the Swarm over SSH: waits for each node, `swarm init` on the first
 * manager, joins the others over the private network, applies role, labels and
 * availability, and hands out a Docker provider that talks to a manager. Every
 * step is a script from scripts/bootstrap, idempotent; a changed input re-runs it in
 * place, and only a new server replaces a step (core/bootstrap.ts, stepCommandRule).
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
    const connectionTo = (node: string, firstContact: boolean): command.types.input.remote.ConnectionArgs => ({
      host: servers[node].publicIp,
      port: config.ssh.port,
      user: config.ssh.user,
      privateKey,
      // cloud-init installs this key before sshd listens on the configured port: any other key is not our server.
      hostKey: servers[node].hostPublicKey,
      ...(firstContact ? DIAL.firstContact : DIAL.later),
    });
    const serverIdOf = (node: string): pulumi.Output<string> => servers[node].server.id;

    const steps = bootstrapSteps(config, topology);
    const commands: Record<string, command.remote.Command> = {};
    const tokens: Partial<Record<TokenName, pulumi.Output<string>>> = {};
    for (const step of steps) {
      const dependsOn = [
        ...step.after.map((id) => commands[id]),
        // A node's private address exists only once its network attachment does.
        servers[step.node].attachment,
        servers[step.runOn].attachment,
      ];
      commands[step.id] = this.stepCommand(`${name}-${step.id}`, step, connectionTo(step.runOn, step.firstContact), tokens, dependsOn, serverIdOf);
      if (step.kind === "token") tokens[step.token] = pulumi.secret(commands[step.id].stdout.apply((s) => s.trim()));
    }
    this.commands = commands;
    this.managerToken = tokens.managerToken!;
    this.workerToken = tokens.workerToken;

    const nodeSteps = steps.filter((s) => s.kind === "config").map((s) => commands[s.id]);
    const leader = servers[topology.leader.name];
    this.dockerProvider = new docker.Provider(`${name}-docker`, {
      host: pulumi.interpolate`ssh://${config.ssh.user}@${leader.publicIp}:${config.ssh.port}`,
      sshOpts: leader.hostPublicKey.apply((key) => dockerSshOpts(key)),
    }, { parent: this, dependsOn: nodeSteps });

    this.registerOutputs({ dockerProvider: this.dockerProvider, managerToken: this.managerToken, workerToken: this.workerToken });
  }

  private stepCommand(
    resourceName: string,
    step: BootstrapStep,
    connection: command.types.input.remote.ConnectionArgs,
    tokens: Partial<Record<TokenName, pulumi.Output<string>>>,
    dependsOn: pulumi.Resource[],
    serverIdOf: (node: string) => pulumi.Output<string>,
  ): command.remote.Command {
    const secretNames = Object.keys(step.secretEnv);
    const serverIdNames = Object.keys(step.serverIdEnv);
    const deployEnv = pulumi.all(serverIdNames.map((k) => serverIdOf(step.serverIdEnv[k])))
      .apply((ids) => ({ ...step.env, ...Object.fromEntries(serverIdNames.map((k, i) => [k, ids[i]])) }));
    const stdin: pulumi.Input<string> = secretNames.length === 0
      ? deployEnv.apply((env) => scriptInput(step.script, env))
      : pulumi.secret(pulumi.all([deployEnv, pulumi.all(secretNames.map((k) => tokens[step.secretEnv[k]]!))]).apply(([env, values]) =>
        scriptInput(step.script, env, Object.fromEntries(secretNames.map((k, i) => [k, values[i]])))));
    const onDelete = step.onDelete;
    const deleteText = onDelete
      ? pulumi.all(Object.values(onDelete.serverIdEnv).map(serverIdOf)).apply((ids) => {
        const byNode = new Map(Object.values(onDelete.serverIdEnv).map((n, i) => [n, ids[i]]));
        return deleteCommand(onDelete, (n) => byNode.get(n)!);
      })
      : undefined;
    return new command.remote.Command(resourceName, {
      connection,
      create: REMOTE_SHELL,
      // Without `update` the provider would re-run `create`, the same command: set it anyway so the
      // intent reads in the state. A changed input is an update, never a replacement.
      update: REMOTE_SHELL,
      stdin,
      ...(deleteText ? { delete: deleteText } : {}),
      // Identity only: a difference here replaces the command and runs the old one's delete.
      triggers: stepTriggers(step, serverIdOf),
      // Token steps print the token on stdout: keep it out of the logs and encrypted in state.
      logging: step.capturesSecret ? "stderr" : "stdoutAndStderr",
      // sshd refuses env requests outside AcceptEnv; the provider would only warn on each update.
      addPreviousOutputInEnv: false,
    }, {
      parent: this,
      dependsOn,
      additionalSecretOutputs: step.capturesSecret ? ["stdout"] : [],
      deleteBeforeReplace: false,
    });
  }
}
