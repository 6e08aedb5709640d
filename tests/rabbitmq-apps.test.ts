/** rabbitmqApps: one user and virtual host per application; errors name the key and the fix. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { loadStack, platformOf, problemsOf } from "./support/config";
import { rabbitmqDefinitions } from "../families/rabbitmq/specs";

void describe("rabbitmqApps", () => {
  void test("each application: a virtual host with quorum by default, a password secret mounted as a file", () => {
    const { platform, service } = platformOf("prod", { rabbitmqApps: ["orders", "billing"] });
    assert.deepEqual((JSON.parse(rabbitmqDefinitions(["orders"])) as { vhosts: { name: string; default_queue_type: string }[] }).vhosts.map((v) => [v.name, v.default_queue_type]), [["/", "quorum"], ["orders", "quorum"]]);
    const node = service("rabbitmq-2");
    assert.equal(node.env.RABBITMQ_APP_USER_FILES, "orders=/run/secrets/rabbitmq-app-orders-password billing=/run/secrets/rabbitmq-app-billing-password");
    assert.deepEqual(node.secrets.map((s) => s.key), ["rabbitmq-erlang-cookie", "rabbitmq-admin-password", "rabbitmq-app-orders-password", "rabbitmq-app-billing-password"]);
    assert.deepEqual(platform.secrets.filter((s) => s.key.startsWith("rabbitmq-app-")).map((s) => s.source), [{ kind: "random", length: 32, special: false }, { kind: "random", length: 32, special: false }]);
  });

  const refusals: [string, Record<string, unknown>, RegExp][] = [
    ["an upper-case name", { rabbitmqApps: ["Orders"] }, /rabbitmqApps\[0\].*lower-case/s],
    ["a name twice", { rabbitmqApps: ["orders", "orders"] }, /rabbitmqApps.*remove the second orders/s],
    ["the administrator's name", { rabbitmqApps: ["admin"] }, /rabbitmqApps.*other than the administrator rabbitmqAdminUser \(admin\)/s],
  ];
  for (const [what, overrides, message] of refusals) {
    void test(`refuses ${what}`, () => {
      const err = problemsOf(() => loadStack("prod", overrides));
      assert.deepEqual(err.keys.map((k) => k.replace(/\[\d+\]$/, "")), ["rabbitmqApps"]);
      assert.match(err.message, message);
    });
  }
});
