/** Settings of Redis with Sentinel, the stable endpoint and the Redis exporter, and their images. */
import type { ConfigProblem } from "../../stacks/errors";
import { int, list, oneOf, perProfile, size, str, type SettingDef } from "../../stacks/schema";
import { ValueError } from "../../stacks/errors";
import type { Values } from "../../stacks/config";
import { majority, memberCapacity } from "../../core/placement";
import { imageSettings, imagesOf, type ImageDefault } from "../kit/images";
import { perNodeProblem } from "../kit/validate";
import type { FamilyArea, SettingsContext } from "../kit/family";

const G = "Redis and Sentinel";

export const REDIS_IMAGES = {
  redis: { image: "redis:7.4.2@sha256:fbdbaea47b9ae4ecc2082ecdb4e1cea81e32176ffb1dcf643d422ad07427e5d9", why: "Redis data members and Sentinels (Sentinel hostname support needs 6.2 or later)" },
  haproxy: { image: "haproxy:3.0.7", why: "the stable `redis` endpoint that follows the current master (HAProxy 3.0 LTS)" },
  redisExporter: { image: "oliver006/redis_exporter:v1.66.0-alpine", why: "Redis exporter for Prometheus (the alpine build: its entrypoint renders the password file with /bin/sh)" },
} as const satisfies Record<string, ImageDefault>;

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

export interface RedisSection {
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
  /** One ACL user per application, each limited to its key patterns. */
  readonly appUsers: readonly RedisAppUser[];
  readonly images: Readonly<Record<keyof typeof REDIS_IMAGES, string>>;
}

export interface RedisAppUser {
  /** ACL user name, e.g. orders. */
  readonly name: string;
  /** Key patterns the user may touch (Redis ACL glob, without the ~), e.g. orders:*. */
  readonly keyPatterns: readonly string[];
}

/** User names the platform's own users take. */
export const RESERVED_REDIS_USERS = ["default", "admin", "health", "replication", "sentinel", "apisix-ratelimit"] as const;

const APP_USER_EXPECTED = 'an application name and its key patterns, e.g. "orders ~orders:*" or "billing ~billing:* ~invoices:*" (name: lower-case letters, digits and -, at most 32; patterns: ~ followed by letters, digits and :_-.*{})';

/** Parses "orders ~orders:* ~carts:*" into a user and its key patterns. */
export function parseRedisAppUser(value: unknown): RedisAppUser {
  if (typeof value !== "string") throw new ValueError(APP_USER_EXPECTED, value);
  const [name, ...patterns] = value.trim().split(/\s+/);
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(name ?? "") || patterns.length === 0 || !patterns.every((p) => /^~[A-Za-z0-9:_.{}*-]+$/.test(p))) {
    throw new ValueError(APP_USER_EXPECTED, value);
  }
  if ((RESERVED_REDIS_USERS as readonly string[]).includes(name)) {
    throw new ValueError(`an application name other than the platform's own users (${RESERVED_REDIS_USERS.join(", ")})`, value);
  }
  if (patterns.includes("~*")) throw new ValueError("key patterns narrower than ~* (every key is the admin's; give the application its own prefix, e.g. ~orders:*)", value);
  return { name, keyPatterns: patterns.map((p) => p.slice(1)) };
}

export const REDIS_SETTINGS: SettingDef[] = [
  {
    key: "redisMembers",
    group: G,
    type: "integer",
    expected: "an integer from 1 to 7, at most the number of workload nodes labelled type=service",
    description: "Redis data members (one Swarm service each, pinned to its own node, with its own volume). redis-1 is the master on the very first boot only.",
    parse: int(1, 7),
    default: perProfile({ test: 1, prod: 3 }),
  },
  {
    key: "redisSentinels",
    group: G,
    type: "integer",
    expected: "an odd integer from 1 to 7, at most the number of workload nodes labelled type=service",
    description: "Redis Sentinels (one service each, pinned); the failover quorum is their majority (2 of 3).",
    parse: int(1, 7),
    default: perProfile({ test: 1, prod: 3 }),
  },
  {
    key: "redisMasterName",
    group: G,
    type: "string",
    expected: "1-40 letters, digits, dashes or underscores",
    description: "Name Sentinel monitors the master under (clients ask `SENTINEL get-master-addr-by-name <name>`).",
    parse: str({ pattern: /^[A-Za-z0-9_-]{1,40}$/, expected: "1-40 letters, digits, dashes or underscores" }),
    default: "platform",
  },
  {
    key: "redisMaxmemory",
    group: G,
    type: "string",
    expected: "a size such as 256m or 2g",
    description: "Redis `maxmemory` of every data member; the container limit is twice this (copy-on-write headroom for AOF rewrites).",
    parse: size,
    default: perProfile({ test: "256m", prod: "1g" }),
  },
  {
    key: "redisMaxmemoryPolicy",
    group: G,
    type: "string",
    expected: `one of ${MAXMEMORY_POLICIES.map((p) => JSON.stringify(p)).join(", ")}`,
    description: "Redis eviction policy when maxmemory is reached (volatile-lru: only keys with a TTL, such as rate-limit counters and caches, are evicted).",
    parse: oneOf(MAXMEMORY_POLICIES),
    default: "volatile-lru",
  },
  {
    key: "redisDownAfterMs",
    group: G,
    type: "integer",
    expected: "an integer from 1000 to 60000 (milliseconds)",
    description: "Sentinel `down-after-milliseconds`: how long the master may not answer before it is considered down.",
    parse: int(1000, 60000),
    default: 5000,
  },
  {
    key: "redisFailoverTimeoutMs",
    group: G,
    type: "integer",
    expected: "an integer from 2000 to 600000 (milliseconds), larger than redisDownAfterMs",
    description: "Sentinel `failover-timeout`.",
    parse: int(2000, 600000),
    default: 10000,
  },
  {
    key: "redisEndpointReplicas",
    group: G,
    type: "integer",
    expected: "an integer from 1 to 5",
    description: "Replicas of the stable `redis` endpoint (HAProxy with a role:master check) for clients that cannot speak Sentinel, such as APISIX rate limiting.",
    parse: int(1, 5),
    default: 2,
  },
  {
    key: "redisAppUsers",
    group: G,
    type: "array",
    expected: `a list of ${APP_USER_EXPECTED}`,
    description: "Redis ACL users of the applications, one each, limited to their key patterns (and pub/sub channels of the same patterns), without admin or dangerous commands (CONFIG, FLUSHALL, DEBUG, KEYS, ...). Each gets its own password, handed out in the secret stack output redisApps.",
    parse: list(parseRedisAppUser, { expected: `a list of ${APP_USER_EXPECTED}` }),
    default: [],
  },
  ...imageSettings(G, REDIS_IMAGES),
];

export const redisArea: FamilyArea<RedisSection> = {
  name: "redis",
  settings: REDIS_SETTINGS,
  build(v: Values): RedisSection {
    const get = <T>(key: string): T => v.get(key) as T;
    const sentinels = get<number>("redisSentinels");
    return {
      members: get("redisMembers"),
      sentinels,
      quorum: majority(sentinels),
      masterName: get("redisMasterName"),
      maxmemory: get("redisMaxmemory"),
      maxmemoryPolicy: get("redisMaxmemoryPolicy"),
      downAfterMs: get("redisDownAfterMs"),
      failoverTimeoutMs: get("redisFailoverTimeoutMs"),
      endpointReplicas: get("redisEndpointReplicas"),
      appUsers: get("redisAppUsers"),
      images: imagesOf(v, REDIS_IMAGES),
    };
  },
  validate(s: RedisSection, { topology }: SettingsContext): ConfigProblem[] {
    const capacity = memberCapacity(topology);
    const problems: ConfigProblem[] = [
      ...perNodeProblem("redisMembers", s.members, capacity),
      ...perNodeProblem("redisSentinels", s.sentinels, capacity),
    ];
    if (s.sentinels % 2 === 0) {
      problems.push({ key: "redisSentinels", expected: "an odd number (an even count adds no failure tolerance over one less)", given: s.sentinels });
    }
    if (s.failoverTimeoutMs <= s.downAfterMs) {
      problems.push({ key: "redisFailoverTimeoutMs", expected: `more than redisDownAfterMs (${s.downAfterMs})`, given: s.failoverTimeoutMs });
    }
    const names = s.appUsers.map((u) => u.name);
    const twice = names.filter((n, i) => names.indexOf(n) !== i);
    if (twice.length > 0) {
      problems.push({ key: "redisAppUsers", expected: `each application once (${[...new Set(twice)].join(", ")} appear twice: merge their key patterns into one entry)`, given: names });
    }
    return problems;
  },
};
