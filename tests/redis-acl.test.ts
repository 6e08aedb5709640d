/**
 * Redis ACL users from config: the redisAppUsers setting's errors name the key and
 * the fix; the generated ACL templates hold one user per purpose and no password
 * (tests/real-redis.test.ts runs real servers on them).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { loadStack, platformOf, problemsOf } from "./support/config";
import { redisArea } from "../families/redis";
import { memberAclTemplate, sentinelAclTemplate } from "../families/redis/specs";

void describe("redisAppUsers", () => {
  void test("parses names and key patterns", () => {
    const apps = loadStack("prod", { redisAppUsers: ["orders ~orders:*", "billing   ~billing:* ~invoices:*"] }).section(redisArea).appUsers;
    assert.deepEqual(apps, [{ name: "orders", keyPatterns: ["orders:*"] }, { name: "billing", keyPatterns: ["billing:*", "invoices:*"] }]);
  });

  const refusals: [string, unknown, RegExp][] = [
    ["no pattern", ["orders"], /redisAppUsers\[0\].*e\.g\. "orders ~orders:\*"/s],
    ["a pattern without ~", ["orders orders:*"], /redisAppUsers\[0\]/],
    ["an upper-case name", ["Orders ~orders:*"], /redisAppUsers\[0\].*lower-case/s],
    ["a reserved name", ["ok ~ok:*", "admin ~x:*"], /redisAppUsers\[1\].*other than the platform's own users \(default, admin, health, replication, sentinel, apisix-ratelimit\)/s],
    ["every key", ["orders ~*"], /redisAppUsers\[0\].*narrower than ~\*/s],
    ["a name twice", ["orders ~orders:*", "orders ~carts:*"], /redisAppUsers.*orders appear twice: merge their key patterns/s],
    ["not a list", "orders ~orders:*", /redisAppUsers/],
  ];
  for (const [what, value, message] of refusals) {
    void test(`refuses ${what}, naming the key and the fix`, () => {
      const err = problemsOf(() => loadStack("prod", { redisAppUsers: value }));
      assert.deepEqual(err.keys.map((k) => k.replace(/\[\d+\]$/, "")), ["redisAppUsers"]);
      assert.match(err.message, message);
    });
  }
});

void describe("ACL templates", () => {
  const apps = [{ name: "orders", keyPatterns: ["orders:*", "carts:*"] }];

  void test("data members: default off, one user per purpose, the application limited to its patterns without admin or dangerous commands", () => {
    assert.equal(memberAclTemplate(apps), [
      "user default off",
      "user health on nopass resetchannels -@all +ping +role",
      "user admin on ~* &* +@all",
      "user replication on resetchannels -@all +psync +replconf +ping",
      "user sentinel on allchannels -@all +multi +slaveof +ping +exec +subscribe +config|rewrite +role +publish +info +client|setname +client|kill +script|kill",
      "user apisix-ratelimit on ~limit-count* resetchannels -@all +ping +eval +evalsha +ttl +set +incrby",
      "user orders on ~orders:* ~carts:* resetchannels &orders:* &carts:* +@all -@admin -@dangerous",
      "",
    ].join("\n"));
  });

  void test("Sentinels: discovery for anyone, orders from the Sentinels and the admin only", () => {
    const lines = sentinelAclTemplate(apps).trimEnd().split("\n");
    assert.equal(lines.length, 5);
    assert.match(lines[0], /^user default on nopass resetchannels &\+switch-master -@all \+ping .*\+sentinel\|get-master-addr-by-name/);
    assert.ok(!/sentinel\|(set|failover|reset|config|remove|monitor)\b/.test(lines[0]), lines[0]);
    assert.equal(lines[4], lines[0].replace("user default on nopass", "user orders on"));
  });

  void test("the templates and the services' environments hold no password: only file paths", () => {
    const { platform } = platformOf("prod", { redisAppUsers: ["orders ~orders:*"] });
    for (const key of ["redis-users-acl", "redis-sentinel-users"]) {
      const content = platform.configs.find((c) => c.key === key)?.content ?? "";
      assert.ok(!/[>#][0-9a-f]/.test(content), `${key} carries a password or hash`);
    }
    const member = platform.services.find((s) => s.name === "redis-1");
    assert.equal(member?.env.REDIS_ACL_USER_FILES.split(" ").find((p) => p.startsWith("orders=")), "orders=/run/secrets/redis-app-orders-password");
    assert.ok(member?.secrets.some((s) => s.key === "redis-app-orders-password"));
    const endpoint = platform.services.find((s) => s.name === "redis");
    assert.deepEqual(endpoint?.secrets, []);
    assert.ok(!JSON.stringify(endpoint?.env).includes("PASSWORD"));
  });
});
