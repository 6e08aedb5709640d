import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { buildTopology } from "../core/topology";
import { buildFirewalls } from "../core/firewall";
import { loadStack } from "./support/config";

describe("topology", () => {
  test("prod: names, roles, locations, fixed private IPs, labels, availability", () => {
    const t = buildTopology(loadStack("prod"));
    assert.deepEqual(t.nodes.map((n) => [n.name, n.role, n.location, n.privateIp, n.availability, n.placementGroup]), [
      ["prod-mgr-01", "manager", "fsn1", "10.20.1.10", "drain", "prod-mgr-spread-1"],
      ["prod-mgr-02", "manager", "nbg1", "10.20.1.11", "drain", "prod-mgr-spread-1"],
      ["prod-mgr-03", "manager", "hel1", "10.20.1.12", "drain", "prod-mgr-spread-1"],
      ["prod-app-01", "worker", "fsn1", "10.20.1.30", "active", "prod-app-spread-1"],
      ["prod-app-02", "worker", "nbg1", "10.20.1.31", "active", "prod-app-spread-1"],
      ["prod-app-03", "worker", "hel1", "10.20.1.32", "active", "prod-app-spread-1"],
    ]);
    assert.deepEqual(t.nodes[3].labels, { type: "service", location: "fsn1", pool: "app", edge: "true" });
    assert.deepEqual(t.nodes[5].labels, { type: "service", location: "hel1", pool: "app" });
    assert.deepEqual(t.nodes[0].labels, { location: "fsn1", pool: "mgr" });
    assert.equal(t.leader.name, "prod-mgr-01");
    assert.equal(t.edge.name, "prod-app-01");
    assert.deepEqual(t.edgeCandidates.map((n) => [n.name, n.location]), [["prod-app-01", "fsn1"], ["prod-app-02", "nbg1"]]);
    assert.deepEqual(t.nodes.filter((n) => n.isEdge).map((n) => n.name), ["prod-app-01", "prod-app-02"]);
    assert.deepEqual(t.workloadNodes.map((n) => n.name), ["prod-app-01", "prod-app-02", "prod-app-03"]);
    assert.deepEqual(t.placementGroups.map((g) => [g.name, g.nodes.length]), [["prod-mgr-spread-1", 3], ["prod-app-spread-1", 3]]);
  });

  test("growing a pool or adding a pool never renumbers an existing node", () => {
    const before = buildTopology(loadStack("prod"));
    const grown = buildTopology(loadStack("prod", {
      nodePools: [
        "mgr role=manager count=5 type=cx33 locations=fsn1,nbg1,hel1",
        "app role=worker count=12 type=cx43 locations=fsn1,nbg1,hel1 labels=type:service ipOffset=30",
        "db role=worker count=3 type=ccx23 locations=fsn1,nbg1,hel1 labels=type:db ipOffset=60",
      ],
    }));
    const byName = new Map(grown.nodes.map((n) => [n.name, n]));
    for (const n of before.nodes) {
      const after = byName.get(n.name)!;
      assert.deepEqual([after.privateIp, after.location, after.role], [n.privateIp, n.location, n.role], n.name);
    }
    assert.equal(byName.get("prod-app-12")!.privateIp, "10.20.1.41");
    assert.equal(byName.get("prod-db-01")!.privateIp, "10.20.1.60");
    // Hetzner's spread groups hold 10 servers: the 11th app node opens a second group.
    assert.equal(byName.get("prod-app-10")!.placementGroup, "prod-app-spread-1");
    assert.equal(byName.get("prod-app-11")!.placementGroup, "prod-app-spread-2");
  });

  test("test: the manager takes workloads", () => {
    const t = buildTopology(loadStack("test"));
    assert.deepEqual(t.nodes.map((n) => [n.name, n.availability, n.privateIp]), [
      ["test-mgr-01", "active", "10.20.1.10"],
      ["test-app-01", "active", "10.20.1.30"],
      ["test-app-02", "active", "10.20.1.31"],
    ]);
  });
});

describe("firewalls", () => {
  test("prod: SSH from admin ranges and ICMP everywhere; 80/443 on the edge only; no Swarm port anywhere", () => {
    const cfg = loadStack("prod");
    const t = buildTopology(cfg);
    const fws = buildFirewalls(cfg, t);
    assert.deepEqual(fws.map((f) => [f.name, f.nodes]), [
      ["prod-base", t.nodes.map((n) => n.name)],
      ["prod-edge", ["prod-app-01", "prod-app-02"]],
      ["prod-ci-door", t.nodes.map((n) => n.name)],
    ]);
    assert.deepEqual([fws[2].rules, fws[2].rulesOwnedOutside], [[], true]);
    assert.deepEqual(fws[0].rules, [
      { description: "SSH from admin ranges", direction: "in", protocol: "tcp", port: "2222", sourceIps: ["198.51.100.0/24"] },
      { description: "ICMP (ping, path MTU discovery)", direction: "in", protocol: "icmp", sourceIps: ["0.0.0.0/0", "::/0"] },
    ]);
    assert.deepEqual(fws[1].rules.map((r) => [r.protocol, r.port, r.sourceIps]), [
      ["tcp", "80", ["0.0.0.0/0", "::/0"]],
      ["tcp", "443", ["0.0.0.0/0", "::/0"]],
    ]);
    const ports = fws.flatMap((f) => f.rules.map((r) => r.port)).filter(Boolean);
    for (const swarmPort of ["2377", "7946", "4789"]) assert.ok(!ports.includes(swarmPort));
  });

  test("HTTP sources follow httpSourceCidrs (e.g. a load balancer)", () => {
    const cfg = loadStack("prod", { httpSourceCidrs: ["203.0.113.7/32"] });
    const fws = buildFirewalls(cfg, buildTopology(cfg));
    assert.deepEqual(fws[1].rules.map((r) => r.sourceIps), [["203.0.113.7/32"], ["203.0.113.7/32"]]);
  });
});
