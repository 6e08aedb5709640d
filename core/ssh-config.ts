/**
 * The operator's ssh_config for the stack's nodes. The public addresses exist only
 * after deploy: the caller passes them in (an Output in the program).
 */
import type { Topology } from "./topology";
import type { CoreConfig } from "../stacks/config";

/** An ssh_config snippet with one Host entry per node (public address, deploy user, configured port). */
export function sshConfigSnippet(cfg: CoreConfig, topology: Topology, publicIps: Readonly<Record<string, string>>): string {
  return topology.nodes.map((n) => [
    `Host ${n.name}`,
    `  HostName ${publicIps[n.name]}`,
    `  User ${cfg.ssh.user}`,
    `  Port ${cfg.ssh.port}`,
    "  IdentitiesOnly yes",
    `  # ${n.role}, private ${n.privateIp}, ${n.location}`,
    "",
  ].join("\n")).join("\n");
}

/** An OpenSSH public key line of the type the host keys are (lib/ssh.ts hostKeyFromSecret). */
const HOST_PUBLIC_KEY = /^ssh-ed25519 [A-Za-z0-9+/]+={0,2}$/;

/**
 * Options the Docker provider appends to its `ssh` command line (it runs the ssh binary, one
 * process per request: docs/provider-facts.md §3 fact 15). The host key is pinned: only the key
 * KnownHostsCommand prints is known (no known_hosts file is read or written), an unknown or
 * changed key fails (StrictHostKeyChecking=yes), and nothing may prompt (BatchMode). `%H` is the
 * host as ssh looks it up (`[ip]:port` for a port other than 22). Needs OpenSSH >= 8.5.
 */
export function dockerSshOpts(hostPublicKey: string): string[] {
  if (!HOST_PUBLIC_KEY.test(hostPublicKey)) throw new Error(`dockerSshOpts: the host key must be one 'ssh-ed25519 AAAA…' line, got '${hostPublicKey.slice(0, 40)}…'`);
  return [
    "-o", "StrictHostKeyChecking=yes",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", `KnownHostsCommand=/bin/echo %H ${hostPublicKey}`,
    "-o", "BatchMode=yes",
    "-o", "ServerAliveInterval=15",
    "-o", "ConnectTimeout=20",
  ];
}
