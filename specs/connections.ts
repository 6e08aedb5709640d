/**
 * What applications and operators need to reach the platform, known at plan
 * time because every name and address derives from the config. Passwords are
 * not here: the caller joins them in as secret Outputs (components/stack.ts).
 */
import type { StackConfig } from "../stacks/config";
import type { Topology } from "../core/topology";
import { postgresUrls, mongoUri } from "../core/connections";
import { dataEndpoints, type DataEndpoints } from "./data";
import { vaultAddress, vaultMembers } from "./vault";
import { APISIX_ADMIN_PORT, APISIX_DASHBOARD_PORT } from "./apisix";
import { PORTS } from "./monitoring";

export interface Connections {
  readonly data: DataEndpoints;
  readonly vault: { readonly address: string; readonly members: readonly string[] };
  readonly apisix: { readonly adminUrl: string; readonly dashboardUrl: string };
  readonly monitoring: { readonly prometheusUrl: string; readonly alertmanagerUrl: string; readonly grafanaUrl: string };
  readonly externalDatabases: {
    readonly postgres?: { readonly libpq: string; readonly jdbc: string };
    readonly mongo?: string;
  };
}

export function connections(config: StackConfig, topology: Topology): Connections {
  const vault = vaultMembers(config, topology).map((m) => m.name);
  const pg = postgresUrls(config.operate.postgres.hosts, config.operate.postgres.database);
  const mongo = mongoUri(config.operate.mongo.hosts, config.operate.mongo.database, config.operate.mongo.replicaSet);
  return {
    data: dataEndpoints(config, topology),
    vault: { address: vaultAddress(config, vault[0]), members: vault.map((m) => vaultAddress(config, m)) },
    apisix: { adminUrl: `http://apisix:${APISIX_ADMIN_PORT}`, dashboardUrl: `http://apisix-dashboard:${APISIX_DASHBOARD_PORT}` },
    monitoring: {
      prometheusUrl: `http://prometheus:${PORTS.prometheus}`,
      alertmanagerUrl: `http://alertmanager:${PORTS.alertmanager}`,
      grafanaUrl: `http://grafana:${PORTS.grafana}`,
    },
    externalDatabases: { ...(pg ? { postgres: pg } : {}), ...(mongo ? { mongo } : {}) },
  };
}

/** `redis://:<password>@host:port/0` for clients that cannot speak Sentinel. */
export function redisUrl(endpoint: string, password: string): string {
  return `redis://:${encodeURIComponent(password)}@${endpoint}/0`;
}

/** Lettuce/Spring form: `redis-sentinel://:<password>@s1:26379,s2:26379/0#<master>`. */
export function redisSentinelUri(sentinels: readonly string[], masterName: string, password: string): string {
  return `redis-sentinel://:${encodeURIComponent(password)}@${sentinels.join(",")}/0#${masterName}`;
}

/** One AMQP URI per node (default vhost). */
export function amqpUris(hosts: readonly string[], user: string, password: string): string[] {
  return hosts.map((h) => `amqp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${h}/`);
}
