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
