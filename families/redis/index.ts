/**
 * The Redis family: data members and Sentinels, the stable `redis` endpoint, and the
 * Redis exporter that Prometheus scrapes every member and Sentinel through.
 */
import { familyPart, type AlertRule, type Family, type FamilyContext, type ScrapeJob } from "../kit/family";
import { unpinnedImageWarnings } from "../kit/images";
import { hostPort } from "../kit/scrape";
import { quorumRules } from "../kit/rules";
import type { Member } from "../kit/member";
import { redisArea, type RedisSection } from "./settings";
import {
  redisAppSecret,
  redisEndpoint,
  redisMembers,
  redisSpecs,
  sentinelAddresses,
  sentinelMembers,
  REDIS_EXPORTER_PORT,
  REDIS_PASSWORD_SECRET,
  REDIS_PORT,
  SENTINEL_PORT,
} from "./specs";
import { REDIS_RECIPES } from "./e2e";
import { redisBackup } from "./backup";

export { redisArea, type RedisSection } from "./settings";
export {
  redisAppSecret, redisEndpoint, redisMembers, sentinelAddresses, sentinelMembers,
  REDIS_ENDPOINT_SERVICE, REDIS_PASSWORD_SECRET, REDIS_PORT, REDIS_RATELIMIT_SECRET, REDIS_USERS, SENTINEL_PORT,
} from "./specs";

/** Redis exporter multi-target scrape: the target is passed as ?target=redis://..., the exporter's address replaces it. */
function exporterJob(job: string, list: readonly Member[], port: number): ScrapeJob {
  return {
    config: {
      job_name: job,
      metrics_path: "/scrape",
      static_configs: list.map((m) => ({ targets: [`redis://${m.name}:${port}`], labels: { member: m.name, node: m.node.name } })),
      relabel_configs: [
        { source_labels: ["__address__"], target_label: "__param_target" },
        { source_labels: ["__address__"], regex: "redis://(.+)", target_label: "instance", replacement: "$1" },
        { target_label: "__address__", replacement: hostPort("redis-exporter", REDIS_EXPORTER_PORT) },
      ],
    },
  };
}

function redisRules(r: RedisSection): AlertRule[] {
  const redisUp = 'redis_up{job="redis"}';
  const sentinelUp = 'redis_up{job="redis-sentinel"}';
  return [
    ...quorumRules("redis", "redis", r.members, redisUp),
    {
      alert: "RedisNoSingleMaster",
      expr: '(count(redis_instance_info{job="redis", role="master"}) or vector(0)) != 1',
      for: "1m",
      labels: { severity: "critical" },
      annotations: { summary: "{{ $value }} Redis members report role master (expected exactly one)" },
    },
    {
      alert: "RedisSentinelFailover",
      // More than one member has been master within the window: Sentinel moved the master.
      expr: 'count(count_over_time(redis_instance_info{job="redis", role="master"}[10m])) > 1',
      labels: { severity: "warning" },
      annotations: { summary: "Sentinel failed the Redis master over in the last 10 minutes" },
    },
    {
      alert: "RedisSentinelDown",
      expr: `${sentinelUp} == 0`,
      for: "1m",
      labels: { severity: "warning" },
      annotations: { summary: "Sentinel {{ $labels.member }} on {{ $labels.node }} is down" },
    },
    ...(r.sentinels > 1 ? [{
      alert: "RedisSentinelQuorumAtRisk",
      expr: `(count(${sentinelUp} == 1) or vector(0)) <= ${r.quorum}`,
      for: "1m",
      labels: { severity: "critical" },
      annotations: { summary: `{{ $value }} of ${r.sentinels} Sentinels up; with fewer than ${r.quorum} no failover can happen` },
    }] : []),
  ];
}

/** `redis://<user>:<password>@host:port/0` for clients that cannot speak Sentinel. */
export function redisUrl(endpoint: string, user: string, password: string): string {
  return `redis://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${endpoint}/0`;
}

/** Lettuce/Spring form: `redis-sentinel://<user>:<password>@s1:26379,s2:26379/0#<master>` (the Sentinels know the user too, for discovery only). */
export function redisSentinelUri(sentinels: readonly string[], masterName: string, user: string, password: string): string {
  return `redis-sentinel://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${sentinels.join(",")}/0#${masterName}`;
}

function build(ctx: FamilyContext<RedisSection>) {
  const endpoint = redisEndpoint();
  const redis = {
    endpoint: `${endpoint.host}:${endpoint.port}`,
    sentinels: sentinelAddresses(ctx),
    masterName: ctx.section.masterName,
    members: redisMembers(ctx).map((m) => `${m.name}:${REDIS_PORT}`),
  };
  const apps = ctx.section.appUsers;
  return familyPart("redis", redisSpecs(ctx), {
    scrapeJobs: [exporterJob("redis", redisMembers(ctx), REDIS_PORT), exporterJob("redis-sentinel", sentinelMembers(ctx), SENTINEL_PORT)],
    alertRules: [{ name: "redis", rules: redisRules(ctx.section) }],
    // Data members replicate but do not vote (Sentinel decides the failover): one survivor keeps Redis serving.
    quorum: { redis: { voting: false } },
    outputs: {
      plain: { redis: { ...redis, appUsers: apps.map((u) => u.name) } },
      secret: {
        // For operators (redis-cli --user admin): no application gets it.
        redisAdminPassword: { from: [REDIS_PASSWORD_SECRET], build: ([pw]) => pw },
        // Each application's own login, limited to its key patterns.
        ...(apps.length > 0 ? {
          redisApps: {
            from: apps.map(redisAppSecret),
            build: (passwords) => Object.fromEntries(apps.map((u, i) => [u.name, {
              user: u.name,
              password: passwords[i],
              keyPatterns: u.keyPatterns,
              url: redisUrl(redis.endpoint, u.name, passwords[i]),
              sentinelUri: redisSentinelUri(redis.sentinels, redis.masterName, u.name, passwords[i]),
            }])),
          },
        } : {}),
      },
    },
    warnings: unpinnedImageWarnings(ctx.section.images),
    backup: redisBackup(ctx),
  });
}

export const redisFamily: Family<RedisSection> = {
  name: "redis",
  area: redisArea,
  e2eImages: REDIS_RECIPES,
  build,
};
