/**
 * The long generated documents of both committed stacks, byte for byte against their
 * reviewed snapshots (tests/snapshots/<stack>/<config key>). Shorter documents are
 * checked field by field in the family tests; these catch every other change.
 */
import { test, describe } from "node:test";
import { platformOf } from "./support/config";
import { matchSnapshot } from "./support/snapshot";

const DOCUMENTS = [
  "prometheus-config",
  "prometheus-rules",
  "alertmanager-config",
  "apisix-config",
  "apisix-dashboard-config",
  "apisix-routes-manifest",
  "edge-caddyfile",
  "redis-conf",
  "redis-sentinel-conf",
  "redis-endpoint-cfg",
  "redis-exporter-passwords",
  "rabbitmq-conf",
  "rabbitmq-definitions",
  "vault-1-config",
] as const;

for (const stack of ["test", "prod"] as const) {
  void describe(`${stack}: generated documents match their reviewed snapshots`, () => {
    const p = platformOf(stack);
    for (const key of DOCUMENTS) {
      void test(key, () => matchSnapshot(`${stack}/${key}`, p.configContent(key)));
    }
  });
}
