import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { StackConfig } from "../stacks/config";
import type { Topology } from "../core/topology";
import { authHeaderFile, FAILOVER_PATHS } from "../core/edge-failover";
import type { ServerHandle } from "./cluster";
import { DIAL } from "./swarm";

export interface EdgeFailoverArgs {
  readonly config: StackConfig;
  readonly topology: Topology;
  readonly servers: Readonly<Record<string, ServerHandle>>;
  /** The Hetzner token keepalived's notify script moves the floating IP with. */
  readonly token: string;
}

/**
 * Puts the failover's Hetzner token on the edge candidates, and nowhere else: a root-only header
 * file (`Authorization: Bearer …`) that curl reads with `-H @file`. It travels on the SSH session's
 * stdin, so it is never in user-data (which the metadata service hands to any process on the server),
 * argv, the environment or a log; in state it is a secret.
 */
export class EdgeFailover extends pulumi.ComponentResource {
  public readonly commands: Readonly<Record<string, command.remote.Command>>;

  constructor(name: string, args: EdgeFailoverArgs, opts?: pulumi.ComponentResourceOptions) {
    super("swarm:edge:EdgeFailover", name, {}, opts);
    const { config, topology, servers } = args;
    const privateKey = pulumi.secret(config.ssh.privateKey);
    const header = pulumi.secret(authHeaderFile(args.token));
    const target = FAILOVER_PATHS.authHeader;
    const commands: Record<string, command.remote.Command> = {};
    for (const node of topology.edgeCandidates) {
      commands[node.name] = new command.remote.Command(`${name}-${node.name}-token`, {
        connection: {
          host: servers[node.name].publicIp,
          port: config.ssh.port,
          user: config.ssh.user,
          privateKey,
          hostKey: servers[node.name].hostPublicKey,
          ...DIAL.later,
        },
        // umask first: the file is never readable by anyone but root, not even for a moment.
        create: `sudo sh -c 'umask 077 && mkdir -p ${FAILOVER_PATHS.dir} && cat > ${target}.new && mv ${target}.new ${target}'`,
        update: `sudo sh -c 'umask 077 && cat > ${target}.new && mv ${target}.new ${target}'`,
        stdin: header,
        // No delete: on a replaced server the old step's delete would dial a server that is gone.
        triggers: [servers[node.name].server.id],
        logging: "none",
      }, { parent: this });
    }
    this.commands = commands;
    this.registerOutputs({ nodes: Object.keys(commands) });
  }
}
