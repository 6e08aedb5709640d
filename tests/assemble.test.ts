/**
 * The assembler: every non-aggregating family's builder runs exactly once per platform,
 * the aggregators (monitoring, backup) receive the parts of all the others, and the platform is the
 * shared networks followed by the parts in registry order.
 */
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { buildTopology } from "../core/topology";
import type { Family, FamilyPart } from "../families/kit/family";
import { buildPlatform } from "../platform/assemble";
import { FAMILIES } from "../platform/registry";
import { partOutputs } from "../platform/outputs";
import { loadStack } from "./support/config";

void describe("buildPlatform", () => {
  for (const stack of ["test", "prod"] as const) {
    void test(`${stack}: each family's builder runs once; monitoring receives every other part`, () => {
      const config = loadStack(stack);
      const calls: string[] = [];
      const received = new Map<string, string[]>();
      const counted: Family[] = FAMILIES.map((f) => ({
        ...f,
        build(ctx, others: readonly FamilyPart[]) {
          calls.push(f.name);
          received.set(f.name, others.map((p) => p.family));
          return f.build(ctx, others);
        },
      }));
      const platform = buildPlatform(config, buildTopology(config), counted);
      // Non-aggregating builders run once; each aggregator runs once on them alone, then once with every other part.
      assert.deepEqual([...calls].sort(), ["apisix", "backup", "backup", "edge", "etcd", "external-databases", "monitoring", "monitoring", "rabbitmq", "redis", "vault"]);
      assert.deepEqual(calls.slice(-2), ["monitoring", "backup"], "the aggregators build last");
      assert.deepEqual(received.get("monitoring"), ["redis", "rabbitmq", "etcd", "vault", "apisix", "edge", "external-databases", "backup"]);
      assert.deepEqual(received.get("backup"), ["redis", "rabbitmq", "etcd", "vault", "apisix", "edge", "external-databases", "monitoring"]);
      assert.deepEqual(received.get("redis"), []);
      assert.deepEqual(platform.parts.map((p) => p.family), ["redis", "rabbitmq", "etcd", "vault", "apisix", "edge", "monitoring", "external-databases", "backup"]);
      assert.deepEqual(platform.spec.networks.map((n) => n.key), ["edge", "platform", "backend", "etcd", "monitoring", "admin"]);
    });
  }

  void test("prod: services in registry order, the Redis exporter next to Redis, monitoring last", () => {
    const config = loadStack("prod");
    const { spec } = buildPlatform(config, buildTopology(config));
    assert.deepEqual(spec.services.map((s) => s.name), [
      "redis-1", "redis-2", "redis-3", "redis-sentinel-1", "redis-sentinel-2", "redis-sentinel-3", "redis", "redis-exporter",
      "rabbitmq-1", "rabbitmq-2", "rabbitmq-3",
      "etcd-1", "etcd-2", "etcd-3", "etcd-auth",
      "vault-1", "vault-2", "vault-3",
      "apisix", "apisix-dashboard", "apisix-routes",
      "edge",
      "prometheus", "alertmanager", "grafana", "node-exporter", "cadvisor",
    ]);
  });

  void test("prod: stack outputs the parts contribute, plain and secret, in registry order", () => {
    const config = loadStack("prod");
    const outputs = partOutputs(buildPlatform(config, buildTopology(config)));
    assert.deepEqual(Object.keys(outputs.plain), ["redis", "rabbitmq", "etcd", "vault", "vaultInitSteps", "apisix", "monitoring", "externalDatabases", "backup"]);
    assert.deepEqual(Object.keys(outputs.secret), [
      "redisAdminPassword", "rabbitmqAdminPassword", "etcdRootPassword", "apisixAdminKey", "apisixDashboardPassword", "grafanaAdminPassword",
    ]);
    assert.deepEqual(outputs.secret.redisAdminPassword.from, ["redis-password"]);
    const withApps = partOutputs(buildPlatform(loadStack("prod", { redisAppUsers: ["orders ~orders:*"] }), buildTopology(config)));
    assert.deepEqual(withApps.secret.redisApps.from, ["redis-app-orders-password"]);
    assert.equal((withApps.secret.redisApps.build(["p@ss"]) as Record<string, { url: string }>).orders.url, "redis://orders:p%40ss@redis:6379/0");
    const rabbitApps = partOutputs(buildPlatform(loadStack("prod", { rabbitmqApps: ["orders"] }), buildTopology(config))).secret.rabbitmqApps;
    assert.deepEqual(rabbitApps.from, ["rabbitmq-app-orders-password"]);
    assert.equal((rabbitApps.build(["pw"]) as Record<string, { amqpAddresses: string }>).orders.amqpAddresses, "amqp://orders:pw@rabbitmq-1:5672/orders,amqp://orders:pw@rabbitmq-2:5672/orders,amqp://orders:pw@rabbitmq-3:5672/orders");
  });

  void test("an output declared by two parts is an error", () => {
    const config = loadStack("test");
    const platform = buildPlatform(config, buildTopology(config));
    const twice = { parts: [...platform.parts, { ...platform.parts[0], family: "copy" }] };
    assert.throws(() => partOutputs(twice), /stack output redis is declared twice \(again by copy\)/);
  });
});
