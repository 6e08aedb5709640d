/**
 * Names and labels, decided once in core/ for both renderers and the Hetzner resources,
 * and the placement vocabulary every family speaks.
 */
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { configLabels, resourceLabels, secretLabels, secretObjectName, serviceAliases, swarmLabels, swarmServiceName } from "../core/naming";
import { majority, memberCapacity, pinTo, serviceNodes, SERVICE_NODE_CONSTRAINT } from "../core/placement";
import { bootstrapSteps } from "../core/bootstrap";
import { buildTopology } from "../core/topology";
import { loadStack } from "./support/config";

const sha10 = (v: string): string => createHash("sha256").update(v).digest("hex").slice(0, 10);

void describe("secret names: one rule for both renderers", () => {
  const random = { namePrefix: "prod_redis-password", source: { kind: "random" as const } };
  const setting = { namePrefix: "prod_alert-webhook-url", source: { kind: "setting" as const } };

  void test("a random value: the stem and the value's hash", () => {
    assert.equal(secretObjectName(random, "s3cret"), `prod_redis-password_${sha10("s3cret")}`);
    assert.equal(secretObjectName(random, "s3cret", "salt"), `prod_redis-password_${sha10("s3cret")}`, "a random value needs no salt");
  });

  void test("a value from a setting: an HMAC under the secret salt, so a weak value is not exposed by its name", () => {
    const hmac = createHmac("sha256", "salt").update("https://hooks.example.com/t/abc").digest("hex").slice(0, 10);
    assert.equal(secretObjectName(setting, "https://hooks.example.com/t/abc", "salt"), `prod_alert-webhook-url_${hmac}`);
  });

  void test("no value (a stack file whose secrets the operator provides): the stem alone", () => {
    assert.equal(secretObjectName(random, undefined), "prod_redis-password");
  });
});

void describe("Swarm and Hetzner names and labels", () => {
  void test("labels", () => {
    assert.deepEqual(swarmLabels("prod", "redis"), { "swarm-platform.stack": "prod", "swarm-platform.component": "redis" });
    assert.deepEqual(secretLabels("prod", "redis-password"), { "swarm-platform.stack": "prod", "swarm-platform.secret": "redis-password" });
    assert.deepEqual(configLabels("prod", "redis-conf"), { "swarm-platform.stack": "prod", "swarm-platform.config": "redis-conf" });
    assert.deepEqual(resourceLabels("prod", { pool: "app", role: "worker" }), { "managed-by": "pulumi", project: "swarm-platform", stack: "prod", pool: "app", role: "worker" });
  });

  void test("service names and aliases as docker stack deploy gives them", () => {
    assert.equal(swarmServiceName("prod", { name: "redis-1" }), "prod_redis-1");
    assert.deepEqual(serviceAliases({ name: "vault-1" }, ["vault-1", "vault"]), ["vault-1", "vault"]);
    assert.deepEqual(serviceAliases({ name: "apisix" }, []), ["apisix"]);
  });
});

void describe("placement vocabulary", () => {
  void test("service nodes: active type=service nodes, workers first", () => {
    const test = buildTopology(loadStack("test"));
    assert.deepEqual(serviceNodes(test).map((n) => n.name), ["test-app-01", "test-app-02", "test-mgr-01"]);
    assert.equal(memberCapacity(test), 3);
    const prod = buildTopology(loadStack("prod"));
    assert.deepEqual(serviceNodes(prod).map((n) => n.name), ["prod-app-01", "prod-app-02", "prod-app-03"], "drained managers carry no members");
  });

  void test("majority, constraints", () => {
    assert.deepEqual([1, 2, 3, 4, 5, 7].map(majority), [1, 2, 2, 3, 3, 4]);
    assert.equal(SERVICE_NODE_CONSTRAINT, "node.labels.type == service");
    assert.equal(pinTo({ name: "prod-app-02" }), "node.hostname == prod-app-02");
  });
});

void describe("bootstrap steps say what they are", () => {
  void test("prod: kinds in order, token steps name the token they capture", () => {
    const config = loadStack("prod");
    const steps = bootstrapSteps(config, buildTopology(config));
    const kinds = steps.map((s) => s.kind);
    // The leader is configured right after init; every other node is recorded, joined, then configured.
    assert.deepEqual([...new Set(kinds)], ["wait", "init", "token", "config", "member", "join"]);
    assert.deepEqual(steps.filter((s) => s.kind === "token").map((s) => [s.id, s.kind === "token" ? s.token : ""]), [
      ["token-manager", "managerToken"],
      ["token-worker", "workerToken"],
    ]);
    assert.equal(steps.filter((s) => s.kind === "config").length, 6, "one config step per node");
  });
});
