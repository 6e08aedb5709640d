/**
 * Connection strings that are known before deploy, as plain functions. Values
 * that exist only after deploy (public IPs, passwords) are passed in by the
 * caller, which keeps them Outputs and secret where they are secret.
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

/** libpq and JDBC multi-host URLs that connect to whichever member is the writable primary. */
export function postgresUrls(hosts: readonly string[], database: string): { libpq: string; jdbc: string } | undefined {
  if (hosts.length === 0) return undefined;
  return {
    libpq: `postgresql://${hosts.join(",")}/${database}?target_session_attrs=read-write`,
    jdbc: `jdbc:postgresql://${hosts.join(",")}/${database}?targetServerType=primary`,
  };
}

/** A replica-set URI: drivers discover the primary and follow elections. */
export function mongoUri(hosts: readonly string[], database: string, replicaSet: string): string | undefined {
  if (hosts.length === 0) return undefined;
  return `mongodb://${hosts.join(",")}/${database}?replicaSet=${replicaSet}`;
}
