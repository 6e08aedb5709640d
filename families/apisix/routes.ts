/**
 * The gateway's routes, upstreams and global rules as declarative data. The
 * `apisix-routes` service PUTs each object to the Admin API under its fixed id
 * (idempotent), so what is deployed is exactly what is written here.
 *
 * Limits (kept from the team's stack files):
 *   global rule     limit-count 60 requests / 60 s per client address
 *   auth routes     limit-count 12 requests / 60 s per client address
 *   WebSocket /ws   limit-conn 5 connections (burst 2) per client address
 * The client address is the real one: APISIX takes it from X-Real-IP, trusted
 * only from the edge network (see specs.ts).
 */
import type { FamilyContext } from "../kit/family";
import { redisEndpoint, REDIS_USERS } from "../redis";
import { rabbitmqArea, rabbitmqMembers, RABBITMQ_PORTS } from "../rabbitmq";
import type { ApisixSection } from "./settings";

export type AdminKind = "upstreams" | "routes" | "global_rules";

/** One Admin API object: PUT /apisix/admin/<kind>/<id> with body. */
export interface AdminObject {
  readonly kind: AdminKind;
  readonly id: string;
  readonly body: Readonly<Record<string, unknown>>;
}

/** Objects once declared and since removed: the apply service deletes them (DELETE is idempotent too). */
export const RETIRED: readonly { readonly kind: AdminKind; readonly id: string }[] = [];

export const LIMITS = {
  global: { count: 60, timeWindow: 60 },
  auth: { count: 12, timeWindow: 60 },
  websocket: { conn: 5, burst: 2, defaultConnDelay: 0.1 },
} as const;

/** Replaced by the apply service with the Redis password read from its secret file; never in a config. */
export const REDIS_PASSWORD_PLACEHOLDER = "__REDIS_PASSWORD__";

export const AUTH_URIS = ["/v1/auth/*", "/v1/users/*"] as const;
export const API_URI = "/v1/*";
export const WEBSOCKET_URI = "/ws";

/** Every object carries this label, so an operator can tell declared objects from hand-made ones. */
const MANAGED = { "managed-by": "swarm-platform" } as const;

/** limit-count with the stack's counter policy: shared in Redis (prod) or per instance (test). */
export function limitCount(ctx: Pick<FamilyContext<ApisixSection>, "section">, count: number, timeWindow: number): Record<string, unknown> {
  const base = { count, time_window: timeWindow, key_type: "var", key: "remote_addr", rejected_code: 429 };
  if (ctx.section.rateLimitPolicy === "local") return { ...base, policy: "local" };
  const redis = redisEndpoint();
  return {
    ...base,
    policy: "redis",
    // limit-count speaks to one Redis host, not to Sentinel: the stable endpoint always leads to the current master.
    redis_host: redis.host,
    redis_port: redis.port,
    // Its own ACL user: limit-count's keys and the commands its script runs, nothing else.
    redis_username: REDIS_USERS.rateLimit,
    redis_password: REDIS_PASSWORD_PLACEHOLDER,
    redis_database: 0,
    redis_timeout: 1000,
    // During a Sentinel failover (seconds) requests pass unlimited rather than fail.
    allow_degradation: true,
  };
}

const tcpChecks = {
  active: {
    type: "tcp",
    timeout: 2,
    healthy: { interval: 5, successes: 2 },
    unhealthy: { interval: 5, tcp_failures: 2, timeouts: 3 },
  },
  passive: {
    type: "tcp",
    healthy: { successes: 3 },
    unhealthy: { tcp_failures: 3, timeouts: 3 },
  },
} as const;

/** The declared objects of this stack, upstreams first (routes refer to them). */
export function apisixAdminObjects(ctx: FamilyContext<ApisixSection>): AdminObject[] {
  const stomp = rabbitmqMembers({ topology: ctx.topology, section: ctx.sectionOf(rabbitmqArea) });
  const sticky = stomp.length > 1;
  const objects: AdminObject[] = [
    {
      kind: "upstreams",
      id: "api",
      body: {
        name: "api",
        desc: "the application API (apisixApiUpstream)",
        type: "roundrobin",
        scheme: "http",
        nodes: { [ctx.section.apiUpstream]: 1 },
        timeout: { connect: 5, send: 60, read: 60 },
        retries: 1,
        checks: tcpChecks,
        labels: MANAGED,
      },
    },
    {
      kind: "upstreams",
      id: "rabbitmq-web-stomp",
      body: {
        name: "rabbitmq-web-stomp",
        desc: "RabbitMQ Web STOMP on every member, by member name (not a VIP)",
        // One client address always lands on the same member while it is healthy; only about 1/N of clients move when a member leaves.
        ...(sticky ? { type: "chash", hash_on: "vars", key: "remote_addr" } : { type: "roundrobin" }),
        scheme: "http",
        nodes: Object.fromEntries(stomp.map((m) => [`${m.name}:${RABBITMQ_PORTS.webStomp}`, 1])),
        timeout: { connect: 10, send: 3600, read: 3600 },
        checks: tcpChecks,
        labels: MANAGED,
      },
    },
    {
      kind: "routes",
      id: "websocket",
      body: {
        name: "websocket",
        desc: "Web STOMP over WebSocket",
        uri: WEBSOCKET_URI,
        enable_websocket: true,
        upstream_id: "rabbitmq-web-stomp",
        plugins: {
          "limit-conn": {
            conn: LIMITS.websocket.conn,
            burst: LIMITS.websocket.burst,
            default_conn_delay: LIMITS.websocket.defaultConnDelay,
            key_type: "var",
            key: "remote_addr",
            rejected_code: 429,
          },
        },
        labels: MANAGED,
      },
    },
    {
      kind: "routes",
      id: "auth",
      body: {
        name: "auth",
        desc: "sign-in and account routes: the strict limit",
        uris: [...AUTH_URIS],
        priority: 10,
        upstream_id: "api",
        plugins: { "limit-count": limitCount(ctx, LIMITS.auth.count, LIMITS.auth.timeWindow) },
        labels: MANAGED,
      },
    },
    {
      kind: "routes",
      id: "api",
      body: {
        name: "api",
        desc: "the rest of the API (the global limit applies)",
        uri: API_URI,
        priority: 0,
        upstream_id: "api",
        labels: MANAGED,
      },
    },
    {
      kind: "global_rules",
      id: "1",
      body: {
        plugins: {
          "limit-count": limitCount(ctx, LIMITS.global.count, LIMITS.global.timeWindow),
          // Per-route request metrics for Prometheus (exported on the plugin server, never on the gateway port).
          prometheus: { prefer_name: true },
        },
      },
    },
  ];
  return objects;
}

/** True when some object needs the Redis password substituted at apply time. */
export function needsRedisPassword(objects: readonly AdminObject[]): boolean {
  return objects.some((o) => JSON.stringify(o.body).includes(REDIS_PASSWORD_PLACEHOLDER));
}

/**
 * The apply service's manifest: one request per line, `<METHOD> <path> <compact JSON>`,
 * upstreams before the routes that use them, deletions of retired objects last.
 */
export function adminManifest(objects: readonly AdminObject[], retired: typeof RETIRED = RETIRED): string {
  const lines = [
    "# Generated from specs/apisix-routes.ts: <METHOD> <Admin API path> <JSON body>",
    ...objects.map((o) => `PUT /apisix/admin/${o.kind}/${o.id} ${JSON.stringify(o.body)}`),
    ...[...retired].sort((a, b) => (a.kind === "routes" ? -1 : 0) - (b.kind === "routes" ? -1 : 0))
      .map((r) => `DELETE /apisix/admin/${r.kind}/${r.id} {}`),
  ];
  return lines.join("\n") + "\n";
}
