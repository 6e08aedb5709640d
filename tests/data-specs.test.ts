/**
 * The data services as plain data: settings and their errors, member placement,
 * the generated config files (read by the real tools where Debian has them:
 * shellcheck, haproxy -c, redis-server) and the rules every service follows.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadStack, problemsOf } from "./support/config";
import { haveTools, run } from "./support/real-processes";
import { buildTopology } from "../core/topology";
import { buildPlatform } from "../platform/assemble";
import { redisSpecs } from "../families/redis/specs";
import { rabbitmqSpecs } from "../families/rabbitmq/specs";
import { etcdSpecs, etcdEndpoints } from "../families/etcd/specs";
import { familyContext } from "../platform/assemble";
import { redisArea, redisFamily } from "../families/redis";
import { rabbitmqArea, rabbitmqFamily } from "../families/rabbitmq";
import { etcdArea, etcdFamily } from "../families/etcd";
import type { PlatformSpec, ServiceSpec } from "../core/model";
import { GiB, MiB } from "../lib/size";
import { planStack } from "../tools/plan";
import { renderTable } from "../tools/report";
import { ROOT } from "./support/config";

function platformOf(stack: "test" | "prod", overrides: Record<string, unknown> = {}): PlatformSpec {
  const config = loadStack(stack, overrides);
  return buildPlatform(config, buildTopology(config)).spec;
}

const DATA_COMPONENTS = ["redis", "sentinel", "redis-endpoint", "rabbitmq", "etcd"];
const dataServices = (p: PlatformSpec): ServiceSpec[] => p.services.filter((s) => DATA_COMPONENTS.includes(s.component));
const svc = (p: PlatformSpec, name: string): ServiceSpec => {
  const s = p.services.find((x) => x.name === name);
  assert.ok(s, `service ${name}`);
  return s;
};
const content = (p: PlatformSpec, key: string): string => {
  const c = p.configs.find((x) => x.key === key);
  assert.ok(c, `config ${key}`);
  return c.content;
};

void describe("data settings", () => {
  /** [what, stack, overrides, key the error names, text of the expectation] */
  const BAD: [string, "test" | "prod", Record<string, unknown>, string, string][] = [
    ["more Redis members than service nodes", "prod", { redisMembers: "4" }, "redisMembers", "at most 3"],
    ["even Sentinel count", "prod", { redisSentinels: "2" }, "redisSentinels", "an odd number"],
    ["failover timeout not above down-after", "prod", { redisDownAfterMs: "10000", redisFailoverTimeoutMs: "10000" }, "redisFailoverTimeoutMs", "more than redisDownAfterMs (10000)"],
    ["maxmemory without unit", "prod", { redisMaxmemory: "1024" }, "redisMaxmemory", "a size such as 256m or 2g"],
    ["unknown eviction policy", "prod", { redisMaxmemoryPolicy: "lru" }, "redisMaxmemoryPolicy", '"volatile-lru"'],
    ["even RabbitMQ node count", "prod", { rabbitmqNodes: "2" }, "rabbitmqNodes", "an odd number"],
    ["RabbitMQ memory too small", "test", { rabbitmqMemoryLimit: "128m" }, "rabbitmqMemoryLimit", "at least 256m"],
    ["etcd endpoint not a URL", "prod", { etcdEndpoints: ["db-01:2379"] }, "etcdEndpoints[0]", "an etcd client URL"],
    ["etcd prefix not absolute", "prod", { etcdPrefix: "apisix" }, "etcdPrefix", "an absolute key prefix"],
    ["even etcd members", "prod", { etcdMembers: "2" }, "etcdMembers", "1, 3 or 5"],
    ["image on latest", "prod", { imageRedis: "redis:latest" }, "imageRedis", "pinned tag"],
    ["image without tag", "test", { imageEtcd: "quay.io/coreos/etcd" }, "imageEtcd", "pinned tag"],
  ];
  for (const [what, stack, overrides, key, expected] of BAD) {
    void test(`${what}: the error names ${key}`, () => {
      const err = problemsOf(() => loadStack(stack, overrides));
      const p = err.problems.find((x) => x.key === key);
      assert.ok(p, `problems: ${err.message}`);
      assert.ok(p.expected.includes(expected), p.expected);
    });
  }

  void test("profile defaults: test is small, prod is the HA layout, images pinned per family", () => {
    const t = loadStack("test");
    const p = loadStack("prod");
    const shape = (c: typeof t): number[] => [
      c.section(redisArea).members, c.section(redisArea).sentinels, c.section(redisArea).quorum, c.section(rabbitmqArea).nodes, c.section(etcdArea).members,
    ];
    assert.deepEqual(shape(t), [1, 1, 1, 1, 1]);
    assert.deepEqual(shape(p), [3, 3, 2, 3, 3]);
    assert.deepEqual([p.section(redisArea).downAfterMs, p.section(redisArea).failoverTimeoutMs], [5000, 10000]);
    assert.deepEqual(p.section(redisArea).images, { redis: "redis:7.4.2@sha256:fbdbaea47b9ae4ecc2082ecdb4e1cea81e32176ffb1dcf643d422ad07427e5d9", haproxy: "haproxy:3.0.7", redisExporter: "oliver006/redis_exporter:v1.66.0-alpine" });
    assert.deepEqual(p.section(rabbitmqArea).images, { rabbitmq: "rabbitmq:4.0.5-management" });
    assert.deepEqual(p.section(etcdArea).images, { etcd: "quay.io/coreos/etcd:v3.5.17" });
    assert.equal(loadStack("prod", { imageRedisExporter: "oliver006/redis_exporter:v1.67.0" }).section(redisArea).images.redisExporter, "oliver006/redis_exporter:v1.67.0");
  });
});

void describe("data services: placement and shape", () => {
  void test("prod: three pinned members per family, one per worker, dnsrr, own volume", () => {
    const p = platformOf("prod");
    for (const family of ["redis", "redis-sentinel", "rabbitmq", "etcd"]) {
      assert.deepEqual([1, 2, 3].map((i) => {
        const s = svc(p, `${family}-${i}`);
        return [s.node, s.placement.constraints, s.endpointMode, s.hostname, s.mode, s.stateful];
      }), [1, 2, 3].map((i) => [`prod-app-0${i}`, [`node.hostname == prod-app-0${i}`], "dnsrr", `${family}-${i}`, { replicas: 1 }, true]));
    }
    assert.deepEqual(p.volumes.filter((v) => /^(redis|rabbitmq|etcd)-/.test(v.key)).map((v) => [v.key, v.name, v.node]), [
      ["redis-1-data", "prod_redis-1-data", "prod-app-01"], ["redis-2-data", "prod_redis-2-data", "prod-app-02"], ["redis-3-data", "prod_redis-3-data", "prod-app-03"],
      ["rabbitmq-1-data", "prod_rabbitmq-1-data", "prod-app-01"], ["rabbitmq-2-data", "prod_rabbitmq-2-data", "prod-app-02"], ["rabbitmq-3-data", "prod_rabbitmq-3-data", "prod-app-03"],
      ["etcd-1-data", "prod_etcd-1-data", "prod-app-01"], ["etcd-2-data", "prod_etcd-2-data", "prod-app-02"], ["etcd-3-data", "prod_etcd-3-data", "prod-app-03"],
    ]);
    const endpoint = svc(p, "redis");
    assert.deepEqual([endpoint.component, endpoint.mode, endpoint.endpointMode, endpoint.placement, endpoint.update.order, endpoint.stateful],
      ["redis-endpoint", { replicas: 2 }, "vip", { constraints: ["node.labels.type == service"], spread: ["node.labels.location"], maxReplicasPerNode: 1 }, "start-first", false]);
    assert.equal(loadStack("prod", { endpointMode: "dnsrr" }).docker.endpointMode, "dnsrr");
    assert.equal(svc(platformOf("prod", { endpointMode: "dnsrr" }), "redis").endpointMode, "dnsrr");
  });

  void test("test: one member each, on the first worker (managers carry the lighter share)", () => {
    const p = platformOf("test");
    assert.deepEqual(dataServices(p).map((s) => [s.name, s.node ?? null]), [
      ["redis-1", "test-app-01"], ["redis-sentinel-1", "test-app-01"], ["redis", null], ["rabbitmq-1", "test-app-01"], ["etcd-1", "test-app-01"],
    ]);
  });

  void test("external etcd endpoints: no etcd members, APISIX gets the endpoints and the prefix", () => {
    const config = loadStack("prod", { etcdEndpoints: ["http://db-01:2379", "http://db-02:2379", "http://db-03:2379"], etcdPrefix: "/gateway" });
    const ctx = familyContext(config, buildTopology(config), etcdFamily);
    assert.deepEqual(etcdSpecs(ctx), { networks: [], volumes: [], secrets: [], configs: [], services: [] });
    assert.deepEqual(etcdEndpoints(ctx), ["http://db-01:2379", "http://db-02:2379", "http://db-03:2379"]);
    // Even with more members than nodes configured: they are not deployed, so not checked.
    assert.doesNotThrow(() => loadStack("prod", { etcdEndpoints: ["http://db-01:2379"], etcdMembers: "5" }));
  });

  void test("every data service: pinned image, limits within reservations, healthcheck, rollback on failed update", () => {
    for (const stack of ["test", "prod"] as const) {
      for (const s of dataServices(platformOf(stack))) {
        assert.match(s.image, /:[A-Za-z0-9_][A-Za-z0-9_.-]*$/, `${s.name} image`);
        assert.ok(!s.image.endsWith(":latest"), `${s.name} image`);
        assert.ok(s.resources.reservations.memoryBytes <= s.resources.limits.memoryBytes, `${s.name} memory`);
        assert.ok(s.resources.reservations.cpus <= s.resources.limits.cpus, `${s.name} cpus`);
        assert.ok(s.healthcheck.test.length > 1 && ["CMD", "CMD-SHELL"].includes(s.healthcheck.test[0]), `${s.name} healthcheck`);
        assert.equal(s.update.failureAction, "rollback", s.name);
        assert.equal(s.update.order, s.stateful ? "stop-first" : "start-first", s.name);
        assert.equal(s.rollback.failureAction, "pause", s.name);
        assert.ok(s.placement.constraints.length > 0, `${s.name} placement`);
        assert.equal(s.labels["swarm-platform.component"], s.component);
      }
    }
  });

  void test("secrets reach containers only as files: no secret-looking variable without _FILE, every secret mounted under /run/secrets", () => {
    for (const stack of ["test", "prod"] as const) {
      const p = platformOf(stack);
      for (const s of dataServices(p)) {
        for (const key of Object.keys(s.env)) {
          // The etcd cluster token only tells clusters apart; it grants nothing.
          if (key === "ETCD_INITIAL_CLUSTER_TOKEN") continue;
          if (/PASS|SECRET|COOKIE|TOKEN|KEY/.test(key)) assert.match(key, /_(FILE|SECRET)$/, `${s.name} ${key}`);
        }
        for (const ref of s.secrets) {
          assert.equal(ref.target, `/run/secrets/${ref.key}`);
          assert.ok(p.secrets.some((x) => x.key === ref.key));
        }
      }
      assert.deepEqual(p.secrets.filter((x) => x.key.startsWith("redis") || x.key.startsWith("rabbitmq")).map((x) => [x.key, x.namePrefix, x.source]), [
        // One password per ACL user: admin, replication, Sentinel, the rate limiter.
        ["redis-password", `${stack}_redis-password`, { kind: "random", length: 32, special: false }],
        ["redis-replication-password", `${stack}_redis-replication-password`, { kind: "random", length: 32, special: false }],
        ["redis-sentinel-password", `${stack}_redis-sentinel-password`, { kind: "random", length: 32, special: false }],
        ["redis-ratelimit-password", `${stack}_redis-ratelimit-password`, { kind: "random", length: 32, special: false }],
        ["rabbitmq-erlang-cookie", `${stack}_rabbitmq-erlang-cookie`, { kind: "random", length: 64, special: false }],
        ["rabbitmq-admin-password", `${stack}_rabbitmq-admin-password`, { kind: "random", length: 32, special: false }],
      ]);
    }
  });

  void test("configs are named by content: a changed setting renames exactly the configs it changes", () => {
    const before = platformOf("prod");
    const after = platformOf("prod", { redisMaxmemory: "2g" });
    // The rule, computed here independently: <prefix>_<key>_<first 10 hex digits of the content's SHA-256>.
    for (const c of before.configs) assert.equal(c.name, `prod_${c.key}_${createHash("sha256").update(c.content).digest("hex").slice(0, 10)}`);
    const changed = before.configs.filter((c) => after.configs.find((a) => a.key === c.key)?.name !== c.name).map((c) => c.key);
    assert.deepEqual(changed, ["redis-conf"]);
    assert.equal(svc(after, "redis-1").resources.limits.memoryBytes, 4 * GiB);
  });
});

void describe("generated files", () => {
  void test("redis.conf: AOF everysec, maxmemory and policy from config, no password, no per-member values", () => {
    const p = platformOf("prod", { redisMaxmemory: "512m", redisMaxmemoryPolicy: "allkeys-lfu" });
    const conf = content(p, "redis-conf").split("\n");
    for (const line of ["appendonly yes", "appendfsync everysec", `maxmemory ${512 * MiB}`, "maxmemory-policy allkeys-lfu", "min-replicas-to-write 1"]) {
      assert.ok(conf.includes(line), line);
    }
    assert.ok(!conf.some((l) => /^(requirepass|masterauth|replicaof|port|bind|dir) /.test(l)));
    // One member: no replica to wait for.
    assert.ok(content(platformOf("test"), "redis-conf").split("\n").includes("min-replicas-to-write 0"));
  });

  void test("Sentinel body: timeouts from config, under the master name", () => {
    const p = platformOf("prod", { redisMasterName: "main", redisDownAfterMs: "3000", redisFailoverTimeoutMs: "9000" });
    assert.equal(content(p, "redis-sentinel-conf"), [
      "sentinel down-after-milliseconds main 3000",
      "sentinel failover-timeout main 9000",
      "sentinel parallel-syncs main 1",
      "sentinel deny-scripts-reconfig yes",
      'logfile ""',
      "",
    ].join("\n"));
    const s2 = svc(p, "redis-sentinel-2");
    assert.equal(s2.env.REDIS_QUORUM, "2");
    assert.equal(s2.env.REDIS_FIRST_MASTER, "redis-1:6379");
    assert.equal(s2.env.SENTINEL_ANNOUNCE_HOST, "redis-sentinel-2");
    assert.match(s2.env.SENTINEL_MYID, /^[0-9a-f]{40}$/);
    assert.notEqual(s2.env.SENTINEL_MYID, svc(p, "redis-sentinel-1").env.SENTINEL_MYID);
  });

  void test("RabbitMQ: static peer list, definitions with quorum as default queue type, plugins", () => {
    const p = platformOf("prod");
    const conf = content(p, "rabbitmq-conf").split("\n");
    for (const line of [
      "cluster_formation.peer_discovery_backend = classic_config",
      "cluster_formation.classic_config.nodes.1 = rabbit@rabbitmq-1",
      "cluster_formation.classic_config.nodes.2 = rabbit@rabbitmq-2",
      "cluster_formation.classic_config.nodes.3 = rabbit@rabbitmq-3",
      "cluster_partition_handling = pause_minority",
      "load_definitions = /run/rabbitmq/definitions",
      `vm_memory_high_watermark.absolute = ${Math.floor(2 * GiB * 0.6)}`,
    ]) assert.ok(conf.includes(line), line);
    assert.deepEqual(JSON.parse(content(p, "rabbitmq-definitions")).vhosts[0].metadata.default_queue_type, "quorum");
    assert.equal(content(p, "rabbitmq-plugins"), "[rabbitmq_management,rabbitmq_prometheus,rabbitmq_web_stomp].\n");
    assert.equal(svc(p, "rabbitmq-2").env.RABBITMQ_NODENAME, "rabbit@rabbitmq-2");
  });

  void test("shellcheck finds nothing in the entrypoint scripts", async (t) => {
    if (!haveTools(t, ["shellcheck"])) return;
    const dir = mkdtempSync(join(tmpdir(), "data-scripts-"));
    try {
      const p = platformOf("prod");
      const paths = ["redis-member-sh", "redis-sentinel-sh", "redis-endpoint-sh", "redis-acl-sh", "rabbitmq-node-sh"].map((key) => {
        const path = join(dir, `${key}.sh`);
        writeFileSync(path, content(p, key));
        return path;
      });
      const r = await run("shellcheck", ["-s", "sh", ...paths]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void test("haproxy -c accepts the endpoint's config for both stacks", async (t) => {
    if (!haveTools(t, ["haproxy"])) return;
    const dir = mkdtempSync(join(tmpdir(), "data-haproxy-"));
    try {
      for (const stack of ["test", "prod"] as const) {
        const cfg = content(platformOf(stack), "redis-endpoint-cfg");
        assert.equal(cfg.split("\n").filter((l) => l.trim().startsWith("server ")).length, stack === "prod" ? 3 : 1);
        const path = join(dir, `${stack}.cfg`);
        writeFileSync(path, cfg);
        // Without any environment: the config holds no placeholder for a secret.
        const r = await run("haproxy", ["-c", "-f", path]);
        assert.equal(r.code, 0, `${stack}: ${r.stdout}${r.stderr}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void test("the builders are pure: the same config gives the same spec", () => {
    const config = loadStack("prod");
    const topology = buildTopology(config);
    const redis = familyContext(config, topology, redisFamily);
    const rabbitmq = familyContext(config, topology, rabbitmqFamily);
    assert.deepEqual(redisSpecs(redis), redisSpecs(redis));
    assert.deepEqual(rabbitmqSpecs(rabbitmq), rabbitmqSpecs(rabbitmq));
  });
});

void describe("the plan shows the services", () => {
  void test("JSON plan: services[] with name, component, image, replicas or global, constraints, node", async () => {
    const { report } = await planStack(ROOT, "prod");
    const byName = new Map(report.services.map((s) => [s.name, s]));
    assert.deepEqual(byName.get("redis-2"), {
      name: "redis-2",
      component: "redis",
      image: "redis:7.4.2@sha256:fbdbaea47b9ae4ecc2082ecdb4e1cea81e32176ffb1dcf643d422ad07427e5d9",
      mode: "replicated",
      replicas: 1,
      constraints: ["node.hostname == prod-app-02"],
      node: "prod-app-02",
      endpointMode: "dnsrr",
      stateful: true,
      networks: ["platform", "backend"],
      secrets: ["redis-password", "redis-replication-password", "redis-sentinel-password", "redis-ratelimit-password"],
      configs: ["redis-conf", "redis-member-sh", "redis-acl-sh", "redis-users-acl"],
      volumes: ["redis-2-data"],
      memoryLimitBytes: 2 * GiB,
    });
    assert.deepEqual(byName.get("redis"), {
      name: "redis",
      component: "redis-endpoint",
      image: "haproxy:3.0.7",
      mode: "replicated",
      replicas: 2,
      constraints: ["node.labels.type == service"],
      endpointMode: "vip",
      stateful: false,
      networks: ["platform", "backend"],
      // HAProxy's master check logs in as the password-less health user: it holds no secret.
      secrets: [],
      configs: ["redis-endpoint-cfg", "redis-endpoint-sh"],
      volumes: [],
      memoryLimitBytes: 128 * MiB,
    });
    assert.deepEqual(
      report.services.filter((s) => DATA_COMPONENTS.includes(s.component)).map((s) => `${s.component}:${s.name}@${s.node ?? "-"}`),
      [
        "redis:redis-1@prod-app-01", "redis:redis-2@prod-app-02", "redis:redis-3@prod-app-03",
        "sentinel:redis-sentinel-1@prod-app-01", "sentinel:redis-sentinel-2@prod-app-02", "sentinel:redis-sentinel-3@prod-app-03",
        "redis-endpoint:redis@-",
        "rabbitmq:rabbitmq-1@prod-app-01", "rabbitmq:rabbitmq-2@prod-app-02", "rabbitmq:rabbitmq-3@prod-app-03",
        "etcd:etcd-1@prod-app-01", "etcd:etcd-2@prod-app-02", "etcd:etcd-3@prod-app-03",
      ],
    );
    for (const s of report.services.filter((x) => x.mode === "global")) assert.equal(s.replicas, undefined, s.name);
    assert.deepEqual(report.networks.map((n) => [n.name, n.attachable, n.internal, n.encrypted, n.mtu]), [
      ["prod_edge", false, false, true, 1350], ["prod_platform", true, false, true, 1350], ["prod_backend", false, true, true, 1350],
      ["prod_etcd", false, true, true, 1350], ["prod_monitoring", true, false, true, 1350], ["prod_admin", false, true, true, 1350],
    ]);
    assert.deepEqual(report.secrets.find((x) => x.key === "redis-password"), { key: "redis-password", namePrefix: "prod_redis-password", source: "random" });
    const table = renderTable(report);
    assert.match(table, /^redis-sentinel-3 +sentinel +redis:7\.4\.2 +1 +prod-app-03 +dnsrr +64M\n +@sha256:fbdbaea47b9a…$/m);
  });
});
