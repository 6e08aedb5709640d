/**
 * Settings of the platform's data services (Redis with Sentinel, RabbitMQ, etcd)
 * and the pinned image of every service family.
 */
import type { ConfigProblem } from "../errors";
import { ValueError } from "../errors";
import { int, list, oneOf, perProfile, pinnedImage, size, str, type SettingDef } from "../schema";
import type { CoreConfig, Values } from "../config";
import type { Area } from "./index";
import { DEFAULT_IMAGES, IMAGE_FAMILIES, imageSettingKey, type Images } from "../../specs/images";
import { majority, memberCapacity } from "../../core/placement";
import { buildTopology } from "../../core/topology";
import { sizeToBytes } from "../../lib/size";

const G_IMAGES = "Images";
const G_REDIS = "Redis and Sentinel";
const G_RABBITMQ = "RabbitMQ";
const G_ETCD = "etcd (APISIX configuration store)";

export const IMAGE_SETTINGS: SettingDef[] = IMAGE_FAMILIES.map((family) => ({
  key: imageSettingKey(family),
  group: G_IMAGES,
  type: "string",
  expected: "an image reference with a pinned tag, e.g. redis:7.4.2 (not latest, not untagged)",
  description: `Pinned image of ${DEFAULT_IMAGES[family].why}. Change it to upgrade deliberately (or to use a locally built image).`,
  parse: pinnedImage,
  default: DEFAULT_IMAGES[family].image,
}));

export const imagesArea: Area<"images", Images> = {
  name: "images",
  settings: IMAGE_SETTINGS,
  build(values: Values): Images {
    return Object.fromEntries(IMAGE_FAMILIES.map((f) => [f, values.get(imageSettingKey(f)) as string])) as unknown as Images;
  },
};

export const MAXMEMORY_POLICIES = [
  "noeviction",
  "allkeys-lru",
  "allkeys-lfu",
  "allkeys-random",
  "volatile-lru",
  "volatile-lfu",
  "volatile-random",
  "volatile-ttl",
] as const;
export type MaxmemoryPolicy = (typeof MAXMEMORY_POLICIES)[number];

export interface DataSection {
  readonly redis: {
    /** Data members redis-1..n; redis-1 is the designated first master. */
    readonly members: number;
    readonly sentinels: number;
    /** Majority of the sentinels. */
    readonly quorum: number;
    readonly masterName: string;
    readonly maxmemory: string;
    readonly maxmemoryPolicy: MaxmemoryPolicy;
    readonly downAfterMs: number;
    readonly failoverTimeoutMs: number;
    /** Replicas of the stable `redis` endpoint (HAProxy) for clients that cannot speak Sentinel. */
    readonly endpointReplicas: number;
  };
  readonly rabbitmq: {
    readonly nodes: number;
    readonly memoryLimit: string;
    readonly adminUser: string;
  };
  readonly etcd: {
    /** External endpoints (e.g. an existing etcd cluster); empty: the platform runs its own members. */
    readonly externalEndpoints: readonly string[];
    readonly prefix: string;
    /** Members the platform runs when externalEndpoints is empty. */
    readonly members: number;
  };
}

const etcdEndpoint = str({
  pattern: /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/,
  expected: "an etcd client URL such as http://db-01:2379",
});

export const DATA_SETTINGS: SettingDef[] = [
  {
    key: "redisMembers",
    group: G_REDIS,
    type: "integer",
    expected: "an integer from 1 to 7, at most the number of workload nodes labelled type=service",
    description: "Redis data members (one Swarm service each, pinned to its own node, with its own volume). redis-1 is the master on the very first boot only.",
    parse: int(1, 7),
    default: perProfile({ test: 1, prod: 3 }),
  },
  {
    key: "redisSentinels",
    group: G_REDIS,
    type: "integer",
    expected: "an odd integer from 1 to 7, at most the number of workload nodes labelled type=service",
    description: "Redis Sentinels (one service each, pinned); the failover quorum is their majority (2 of 3).",
    parse: int(1, 7),
    default: perProfile({ test: 1, prod: 3 }),
  },
  {
    key: "redisMasterName",
    group: G_REDIS,
    type: "string",
    expected: "1-40 letters, digits, dashes or underscores",
    description: "Name Sentinel monitors the master under (clients ask `SENTINEL get-master-addr-by-name <name>`).",
    parse: str({ pattern: /^[A-Za-z0-9_-]{1,40}$/, expected: "1-40 letters, digits, dashes or underscores" }),
    default: "platform",
  },
  {
    key: "redisMaxmemory",
    group: G_REDIS,
    type: "string",
    expected: "a size such as 256m or 2g",
    description: "Redis `maxmemory` of every data member; the container limit is twice this (copy-on-write headroom for AOF rewrites).",
    parse: size,
    default: perProfile({ test: "256m", prod: "1g" }),
  },
  {
    key: "redisMaxmemoryPolicy",
    group: G_REDIS,
    type: "string",
    expected: `one of ${MAXMEMORY_POLICIES.map((p) => JSON.stringify(p)).join(", ")}`,
    description: "Redis eviction policy when maxmemory is reached (volatile-lru: only keys with a TTL, such as rate-limit counters and caches, are evicted).",
    parse: oneOf(MAXMEMORY_POLICIES),
    default: "volatile-lru",
  },
  {
    key: "redisDownAfterMs",
    group: G_REDIS,
    type: "integer",
    expected: "an integer from 1000 to 60000 (milliseconds)",
    description: "Sentinel `down-after-milliseconds`: how long the master may not answer before it is considered down.",
    parse: int(1000, 60000),
    default: 5000,
  },
  {
    key: "redisFailoverTimeoutMs",
    group: G_REDIS,
    type: "integer",
    expected: "an integer from 2000 to 600000 (milliseconds), larger than redisDownAfterMs",
    description: "Sentinel `failover-timeout`.",
    parse: int(2000, 600000),
    default: 10000,
  },
  {
    key: "redisEndpointReplicas",
    group: G_REDIS,
    type: "integer",
    expected: "an integer from 1 to 5",
    description: "Replicas of the stable `redis` endpoint (HAProxy with a role:master check) for clients that cannot speak Sentinel, such as APISIX rate limiting.",
    parse: int(1, 5),
    default: 2,
  },
  {
    key: "rabbitmqNodes",
    group: G_RABBITMQ,
    type: "integer",
    expected: "an odd integer from 1 to 7, at most the number of workload nodes labelled type=service",
    description: "RabbitMQ cluster nodes (one service each, pinned, node name rabbit@rabbitmq-N). The cluster forms by itself from the static node list.",
    parse: int(1, 7),
    default: perProfile({ test: 1, prod: 3 }),
  },
  {
    key: "rabbitmqMemoryLimit",
    group: G_RABBITMQ,
    type: "string",
    expected: "a size of at least 256m, such as 512m or 2g",
    description: "Container memory limit of each RabbitMQ node; the memory high watermark is 60% of it.",
    parse: size,
    default: perProfile({ test: "512m", prod: "2g" }),
  },
  {
    key: "rabbitmqAdminUser",
    group: G_RABBITMQ,
    type: "string",
    expected: "1-32 letters, digits, dashes or underscores",
    description: "Administrator created at definition import; its password is generated and kept as a Pulumi secret (stack output rabbitmqAdminPassword).",
    parse: str({ pattern: /^[A-Za-z0-9_-]{1,32}$/, expected: "1-32 letters, digits, dashes or underscores" }),
    default: "admin",
  },
  {
    key: "etcdEndpoints",
    group: G_ETCD,
    type: "array",
    expected: "a list of etcd client URLs such as http://db-01:2379 (empty: the platform runs its own etcd members)",
    description: "External etcd for APISIX (e.g. an existing 3-member cluster shared under etcdPrefix). Empty: the platform runs etcdMembers members itself.",
    parse: list(etcdEndpoint, { expected: "a list of etcd client URLs such as http://db-01:2379" }),
    default: [],
  },
  {
    key: "etcdPrefix",
    group: G_ETCD,
    type: "string",
    expected: "an absolute key prefix such as /apisix",
    description: "Key prefix APISIX keeps its configuration under (lets it share an etcd cluster).",
    parse: str({ pattern: /^\/[A-Za-z0-9_\/-]*[A-Za-z0-9_-]$/, expected: "an absolute key prefix such as /apisix" }),
    default: "/apisix",
  },
  {
    key: "etcdMembers",
    group: G_ETCD,
    type: "integer",
    expected: "1, 3 or 5, at most the number of workload nodes labelled type=service",
    description: "etcd members the platform runs (one service each, pinned, own volume) when etcdEndpoints is empty.",
    parse: (v) => {
      const n = int(1, 5)(v);
      if (n % 2 === 0) throw new ValueError("1, 3 or 5", v);
      return n;
    },
    default: perProfile({ test: 1, prod: 3 }),
  },
];

export const dataArea: Area<"data", DataSection> = {
  name: "data",
  settings: DATA_SETTINGS,
  build(v: Values): DataSection {
    const get = <T>(key: string): T => v.get(key) as T;
    const sentinels = get<number>("redisSentinels");
    return {
      redis: {
        members: get("redisMembers"),
        sentinels,
        quorum: majority(sentinels),
        masterName: get("redisMasterName"),
        maxmemory: get("redisMaxmemory"),
        maxmemoryPolicy: get("redisMaxmemoryPolicy"),
        downAfterMs: get("redisDownAfterMs"),
        failoverTimeoutMs: get("redisFailoverTimeoutMs"),
        endpointReplicas: get("redisEndpointReplicas"),
      },
      rabbitmq: {
        nodes: get("rabbitmqNodes"),
        memoryLimit: get("rabbitmqMemoryLimit"),
        adminUser: get("rabbitmqAdminUser"),
      },
      etcd: {
        externalEndpoints: get("etcdEndpoints"),
        prefix: get("etcdPrefix"),
        members: get("etcdMembers"),
      },
    };
  },
  validate(s: DataSection, core: CoreConfig): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const capacity = memberCapacity(buildTopology(core));
    const perNode = (key: string, count: number): void => {
      if (count > capacity) {
        problems.push({ key, expected: `at most ${capacity} (one member per workload node labelled type=service; see nodePools)`, given: count });
      }
    };
    perNode("redisMembers", s.redis.members);
    perNode("redisSentinels", s.redis.sentinels);
    perNode("rabbitmqNodes", s.rabbitmq.nodes);
    if (s.etcd.externalEndpoints.length === 0) perNode("etcdMembers", s.etcd.members);
    if (s.redis.sentinels % 2 === 0) {
      problems.push({ key: "redisSentinels", expected: "an odd number (an even count adds no failure tolerance over one less)", given: s.redis.sentinels });
    }
    if (s.rabbitmq.nodes % 2 === 0) {
      problems.push({ key: "rabbitmqNodes", expected: "an odd number (quorum queues need a majority of nodes)", given: s.rabbitmq.nodes });
    }
    if (s.redis.failoverTimeoutMs <= s.redis.downAfterMs) {
      problems.push({ key: "redisFailoverTimeoutMs", expected: `more than redisDownAfterMs (${s.redis.downAfterMs})`, given: s.redis.failoverTimeoutMs });
    }
    if (sizeToBytes(s.rabbitmq.memoryLimit) < sizeToBytes("256m")) {
      problems.push({ key: "rabbitmqMemoryLimit", expected: "at least 256m", given: s.rabbitmq.memoryLimit });
    }
    return problems;
  },
};
