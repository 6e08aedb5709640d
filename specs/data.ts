/**
 * Where clients find the data services: known at plan time, since every name
 * derives from the config (stack output `data`).
 */
import type { StackConfig } from "../stacks/config";
import type { Topology } from "../core/topology";
import { specContext } from "./context";
import { redisEndpoint, redisMembers, sentinelAddresses, REDIS_PASSWORD_SECRET, REDIS_PORT } from "./redis";
import { rabbitmqMembers, rabbitmqNodeName, RABBITMQ_ADMIN_SECRET, RABBITMQ_PORTS } from "./rabbitmq";
import { etcdEndpoints, etcdPrefix } from "./etcd";

export interface DataEndpoints {
  readonly redis: {
    /** host:port that always leads to the current master (for clients that cannot speak Sentinel). */
    readonly endpoint: string;
    readonly sentinels: readonly string[];
    readonly masterName: string;
    readonly members: readonly string[];
    /** Docker secret key services mount to read the password. */
    readonly passwordSecret: string;
  };
  readonly rabbitmq: {
    readonly nodes: readonly string[];
    readonly amqp: readonly string[];
    readonly webStomp: readonly string[];
    readonly adminUser: string;
    readonly adminPasswordSecret: string;
  };
  readonly etcd: { readonly endpoints: readonly string[]; readonly prefix: string };
}

export function dataEndpoints(config: StackConfig, topology: Topology): DataEndpoints {
  const ctx = specContext(config, topology);
  const endpoint = redisEndpoint();
  const rabbits = rabbitmqMembers(ctx);
  return {
    redis: {
      endpoint: `${endpoint.host}:${endpoint.port}`,
      sentinels: sentinelAddresses(ctx),
      masterName: config.data.redis.masterName,
      members: redisMembers(ctx).map((m) => `${m.name}:${REDIS_PORT}`),
      passwordSecret: REDIS_PASSWORD_SECRET,
    },
    rabbitmq: {
      nodes: rabbits.map(rabbitmqNodeName),
      amqp: rabbits.map((m) => `${m.name}:${RABBITMQ_PORTS.amqp}`),
      webStomp: rabbits.map((m) => `${m.name}:${RABBITMQ_PORTS.webStomp}`),
      adminUser: config.data.rabbitmq.adminUser,
      adminPasswordSecret: RABBITMQ_ADMIN_SECRET,
    },
    etcd: { endpoints: etcdEndpoints(ctx), prefix: etcdPrefix(ctx) },
  };
}
