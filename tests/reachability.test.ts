/**
 * The reachability matrix of the generated stacks: who shares a network with whom,
 * and so which ports each service (and an application on the platform network) can
 * open. Segmentation by need: etcd only for APISIX, its dashboard and Prometheus;
 * the Admin API only for the routes applier; nothing for applications but the
 * client endpoints.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { buildTopology } from "../core/topology";
import { buildPlatform } from "../platform/assemble";
import { APPLICATION, reachability, reachableFrom, reachersOf, reachabilityTable } from "../analysis/reachability";
import { OVERLAY_VNI, adminNetworkSubnet, edgeNetworkSubnet } from "../core/networks";
import { loadStack } from "./support/config";

for (const stack of ["test", "prod"] as const) {
  const config = loadStack(stack);
  const spec = buildPlatform(config, buildTopology(config)).spec;
  const rows = reachability(spec);
  const etcdMembers = spec.services.filter((s) => s.component === "etcd").map((s) => s.name);

  void describe(`reachability (${stack})`, () => {
    void test("etcd is reached by APISIX, its dashboard, Prometheus, the etcd-auth job and its own members only", () => {
      assert.ok(etcdMembers.length > 0);
      for (const m of etcdMembers) {
        assert.deepEqual(reachersOf(rows, m), ["apisix", "apisix-dashboard", "etcd-auth", ...etcdMembers.filter((x) => x !== m), "prometheus"].sort(), m);
      }
    });

    void test("the edge reaches APISIX's gateway, and neither etcd, the Admin API's network nor monitoring", () => {
      const edge = reachableFrom(rows, "edge");
      assert.ok(edge.includes("apisix:9080"), edge.join(" "));
      for (const m of etcdMembers) assert.ok(!edge.some((p) => p.startsWith(`${m}:`)), `edge reaches ${m}`);
      assert.ok(!edge.some((p) => p.startsWith("alertmanager:") || p.startsWith("cadvisor:") || p.startsWith("apisix-routes:")), edge.join(" "));
      assert.deepEqual(rows.filter((r) => r.service === "apisix-routes").map((r) => r.network), ["admin"]);
    });

    void test("the Admin API's network holds APISIX and the routes applier only", () => {
      assert.deepEqual(reachableFrom(rows, "apisix-routes"), ["apisix:9080", "apisix:9091", "apisix:9180"]);
      const onAdmin = rows.filter((r) => r.network === "admin").map((r) => r.service).sort();
      assert.deepEqual(onAdmin, ["apisix", "apisix-routes"]);
    });

    void test("an application reaches client endpoints, never Prometheus, Alertmanager, exporters or etcd", () => {
      const app = reachableFrom(rows, APPLICATION);
      for (const forbidden of ["prometheus", "alertmanager", "cadvisor", "node-exporter", "redis-exporter", "apisix-routes", ...etcdMembers]) {
        assert.ok(!app.some((p) => p.startsWith(`${forbidden}:`)), `${APPLICATION} reaches ${forbidden}: ${app.join(" ")}`);
      }
      assert.ok(app.includes("redis:6379"), app.join(" "));
      assert.ok(app.includes("apisix:9080"), app.join(" "));
    });

    void test("cAdvisor and node-exporter share a network with monitoring only", () => {
      for (const exporter of ["cadvisor", "node-exporter"]) {
        assert.deepEqual(rows.filter((r) => r.service === exporter).map((r) => r.network), ["monitoring"]);
        assert.deepEqual(reachableFrom(rows, exporter).map((p) => p.split(":")[0]).filter((s, i, a) => a.indexOf(s) === i).sort(),
          ["alertmanager", "cadvisor", "grafana", "node-exporter", "prometheus"].filter((s) => s !== exporter), exporter);
      }
    });

    void test("every network has its fixed VNI; the admin and edge subnets are distinct blocks at the pool's end", () => {
      assert.deepEqual(spec.networks.map((n) => [n.key, n.vni]), Object.entries(OVERLAY_VNI));
      assert.notEqual(adminNetworkSubnet(config), edgeNetworkSubnet(config));
      assert.equal(spec.networks.find((n) => n.key === "admin")?.subnet, adminNetworkSubnet(config));
    });

    void test("the table names every row", () => {
      const table = reachabilityTable(rows);
      assert.equal(table.split("\n").length, rows.length + 1);
      assert.match(table, /^application\s+platform\s+.*redis \(6379 master endpoint/m);
    });
  });
}

void test("a service on an undeclared network is a programming error", () => {
  assert.throws(() => reachability({ networks: [], services: [{ name: "x", networks: [{ key: "nowhere", aliases: [] }], ports: [] } as never] }), /joins network nowhere/);
});
