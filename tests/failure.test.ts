import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadStack as load } from "./support/config";
import { buildTopology, type Topology } from "../core/topology";
import { pinTo } from "../core/placement";
import { MiB } from "../lib/size";
import { analyseFailures, type AnalysedPlatform, eligibleNodes, failureWarnings, satisfies, SWARM_MANAGERS, type DomainImpact } from "../analysis/failure";
import { majority } from "../core/placement";
import { planStack } from "../tools/plan";
import { renderTable } from "../tools/report";
import { ROOT } from "./support/config";
import { buildPlatform } from "../platform/assemble";
import {
  EMPTY_PLATFORM, RESTART_ANY, rollbackOf, STATEFUL_UPDATE, STATELESS_UPDATE,
  type ServiceSpec,
} from "../core/model";

function service(name: string, component: string, over: Partial<ServiceSpec> = {}): ServiceSpec {
  const stateful = over.stateful ?? false;
  return {
    name,
    component,
    image: "example/app:1.2.3",
    env: {},
    mode: { replicas: 1 },
    endpointMode: stateful ? "dnsrr" : "vip",
    ports: [],
    networks: [],
    secrets: [],
    configs: [],
    mounts: [],
    placement: { constraints: ["node.labels.type == service"], spread: [] },
    resources: { limits: { cpus: 1, memoryBytes: 256 * MiB }, reservations: { cpus: 0.1, memoryBytes: 64 * MiB } },
    healthcheck: { test: ["CMD", "true"], interval: "10s", timeout: "3s", retries: 3, startPeriod: "10s" },
    stopGracePeriod: "30s",
    restartPolicy: RESTART_ANY,
    update: stateful ? STATEFUL_UPDATE : STATELESS_UPDATE,
    rollback: rollbackOf(stateful ? STATEFUL_UPDATE : STATELESS_UPDATE),
    labels: {},
    stateful,
    ...over,
  };
}

/** One pinned member per node, the way the data services are laid out. */
function members(component: string, nodes: readonly string[]): ServiceSpec[] {
  return nodes.map((node, i) => service(`${component}-${i + 1}`, component, {
    stateful: true,
    node,
    hostname: `${component}-${i + 1}`,
    placement: { constraints: [pinTo({ name: node })], spread: [] },
  }));
}

/** A platform of these services, whose Redis data members do not vote (as the Redis part declares). */
function platform(...services: ServiceSpec[]): AnalysedPlatform {
  return { spec: { ...EMPTY_PLATFORM, services }, parts: [{ quorum: { redis: { voting: false } } }] };
}

function domain(report: readonly DomainImpact[], id: string): DomainImpact {
  const d = report.find((x) => x.domain === id);
  assert.ok(d, `no domain ${id} in ${report.map((x) => x.domain).join(", ")}`);
  return d;
}

const prod = load("prod");
const prodTopo = buildTopology(prod);
const APP = ["prod-app-01", "prod-app-02", "prod-app-03"];

void describe("placement constraints", () => {
  const node = prodTopo.nodes.find((n) => n.name === "prod-app-02")!;
  void test("hostname, role and labels are evaluated against the topology", () => {
    assert.equal(satisfies(node, "node.hostname == prod-app-02"), true);
    assert.equal(satisfies(node, "node.hostname==prod-app-01"), false);
    assert.equal(satisfies(node, "node.hostname != prod-app-01"), true);
    assert.equal(satisfies(node, "node.role == worker"), true);
    assert.equal(satisfies(node, "node.role != worker"), false);
    assert.equal(satisfies(node, "node.labels.type == service"), true);
    assert.equal(satisfies(node, "node.labels.location == nbg1"), true);
    assert.equal(satisfies(node, "node.labels.missing == x"), false);
    assert.equal(satisfies(node, "node.labels.missing != x"), true);
    assert.equal(satisfies(node, "node.platform.os == linux"), true, "attributes the topology does not model are assumed satisfied");
  });
  void test("an expression that is not a constraint is an error, not silently true", () => {
    assert.throws(() => satisfies(node, "node.labels.type"), /not a Swarm placement constraint/);
  });
  void test("drained managers never take tasks", () => {
    assert.deepEqual(eligibleNodes(prodTopo, { placement: { constraints: [], spread: [] } }).map((n) => n.name), APP);
  });
});

void describe("prod: no single node or location failure loses a quorum", () => {
  const families = platform(
    ...members("etcd", APP),
    ...members("rabbitmq", APP),
    ...members("vault", APP),
    ...members("sentinel", APP),
    ...members("redis", APP),
    service("apisix", "apisix", { mode: { replicas: 3 }, placement: { constraints: ["node.labels.type == service"], spread: [], maxReplicasPerNode: 1 } }),
    service("prometheus", "prometheus", { stateful: true, node: "prod-app-02", placement: { constraints: [pinTo({ name: "prod-app-02" })], spread: [] } }),
  );
  const report = analyseFailures(prod, prodTopo, families);

  void test("one domain per node, then one per location", () => {
    assert.deepEqual(report.map((d) => d.domain), [
      "node:prod-mgr-01", "node:prod-mgr-02", "node:prod-mgr-03",
      "node:prod-app-01", "node:prod-app-02", "node:prod-app-03",
      "location:fsn1", "location:nbg1", "location:hel1",
    ]);
    assert.deepEqual(domain(report, "location:fsn1").nodes, ["prod-mgr-01", "prod-app-01"]);
  });

  void test("every domain keeps every quorum", () => {
    for (const d of report) assert.deepEqual(d.quorumLost, [], `${d.domain}: ${d.lost.join("; ")}`);
  });

  void test("a manager node: one of three managers, nothing else", () => {
    const d = domain(report, "node:prod-mgr-02");
    assert.deepEqual(d.lost, ["swarm manager prod-mgr-02 (2 of 3 remain, 2 needed)"]);
    assert.equal(d.floatingIp, "kept");
    assert.deepEqual(d.stateful.find((f) => f.family === SWARM_MANAGERS), {
      family: SWARM_MANAGERS, members: 3, lost: 1, remaining: 2, needed: 2, keepsQuorum: true,
    });
  });

  void test("the edge node: one member of each family, one apisix replica; the floating IP moves to the other candidate", () => {
    const d = domain(report, "node:prod-app-01");
    assert.deepEqual(d.lost, [
      "etcd member etcd-1 on prod-app-01 (2 of 3 remain, 2 needed)",
      "rabbitmq member rabbitmq-1 on prod-app-01 (2 of 3 remain, 2 needed)",
      "redis member redis-1 on prod-app-01 (2 of 3 remain, 1 needed)",
      "sentinel member sentinel-1 on prod-app-01 (2 of 3 remain, 2 needed)",
      "vault member vault-1 on prod-app-01 (2 of 3 remain, 2 needed)",
      "apisix: 1 of 3 replicas (2 remain, 2 after rescheduling)",
      "floating IP moves to prod-app-02 (ingress on 80/443 pauses about 3-10 s while keepalived assigns it)",
    ]);
    assert.equal(d.floatingIp, "kept");
    assert.deepEqual(d.floatingIpMovesTo, ["prod-app-02"]);
    assert.deepEqual(d.stateless, [{ service: "apisix", mode: "replicated", running: 3, lost: 1, remaining: 2, afterReschedule: 2 }]);
    assert.deepEqual(d.unavailable, []);
  });

  void test("a stateful singleton is unavailable with its node, which is not a quorum loss", () => {
    const d = domain(report, "node:prod-app-02");
    assert.deepEqual(d.unavailable, ["prometheus"]);
    assert.ok(d.lost.includes("prometheus (prometheus, single member on prod-app-02: down until it returns)"), d.lost.join("\n"));
    assert.deepEqual(d.quorumLost, []);
  });

  void test("a location takes its manager and its worker together", () => {
    const d = domain(report, "location:hel1");
    assert.equal(d.lost[0], "swarm manager prod-mgr-03 (2 of 3 remain, 2 needed)");
    assert.deepEqual(d.stateful.map((f) => [f.family, f.remaining, f.keepsQuorum]), [
      [SWARM_MANAGERS, 2, true], ["etcd", 2, true], ["prometheus", 1, true], ["rabbitmq", 2, true], ["redis", 2, true], ["sentinel", 2, true], ["vault", 2, true],
    ]);
    assert.equal(d.floatingIp, "kept");
  });
});

void describe("the committed stacks with the platform as built today", () => {
  for (const stack of ["test", "prod"] as const) {
    const cfg = load(stack);
    const topo = buildTopology(cfg);
    const report = analyseFailures(cfg, topo, buildPlatform(cfg, topo));
    void test(`${stack}: figures`, () => {
      for (const d of report) {
        console.log(`${stack} ${d.domain}: quorumLost=[${d.quorumLost.join(",")}] floatingIp=${d.floatingIp} lost=${d.lost.length}`);
      }
      assert.equal(report.length, topo.nodes.length + new Set(topo.nodes.map((n) => n.location)).size);
    });
  }
  void test("prod: no single node failure loses any quorum", () => {
    const report = analyseFailures(prod, prodTopo, buildPlatform(prod, prodTopo));
    for (const d of report.filter((x) => x.kind === "node")) assert.deepEqual(d.quorumLost, [], d.domain);
  });
  void test("test: the single manager is a single point of failure, and the report says so", () => {
    const cfg = load("test");
    const topo = buildTopology(cfg);
    const report = analyseFailures(cfg, topo, buildPlatform(cfg, topo));
    assert.deepEqual(domain(report, "node:test-mgr-01").quorumLost, [SWARM_MANAGERS]);
    assert.deepEqual(domain(report, "node:test-app-02").quorumLost, []);
    // Every test node is in fsn1: the location takes everything.
    assert.deepEqual(domain(report, "location:fsn1").quorumLost, [SWARM_MANAGERS]);
    assert.equal(domain(report, "node:test-app-01").floatingIp, "lost");
  });
});

void describe("what breaks a quorum", () => {
  void test("two members of a family on one node lose its quorum with that node", () => {
    const report = analyseFailures(prod, prodTopo, platform(...members("etcd", ["prod-app-01", "prod-app-01", "prod-app-02"])));
    assert.deepEqual(domain(report, "node:prod-app-01").quorumLost, ["etcd"]);
    assert.deepEqual(domain(report, "node:prod-app-02").quorumLost, []);
    assert.equal(domain(report, "node:prod-app-01").lost[0], "etcd members etcd-1 on prod-app-01, etcd-2 on prod-app-01 (1 of 3 remain, 2 needed: QUORUM LOST)");
  });

  void test("a family spread over two locations of three loses quorum with the location that holds two", () => {
    const cfg = load("prod", {
      nodePools: [
        "mgr role=manager count=3 type=cx33 locations=fsn1,nbg1,hel1 ipOffset=10",
        "app role=worker count=3 type=cx43 locations=fsn1,nbg1 labels=type:service ipOffset=30",
      ],
    });
    const topo = buildTopology(cfg);
    assert.deepEqual(topo.workers.map((n) => n.location), ["fsn1", "nbg1", "fsn1"]);
    const report = analyseFailures(cfg, topo, platform(...members("vault", topo.workers.map((n) => n.name))));
    for (const d of report.filter((x) => x.kind === "node")) assert.deepEqual(d.quorumLost, [], d.domain);
    assert.deepEqual(domain(report, "location:fsn1").quorumLost, ["vault"]);
    assert.deepEqual(domain(report, "location:nbg1").quorumLost, []);
  });

  void test("a member pinned to a drained manager never runs, so it counts as lost everywhere", () => {
    const report = analyseFailures(prod, prodTopo, platform(...members("etcd", ["prod-mgr-01", "prod-app-02", "prod-app-03"])));
    const d = domain(report, "node:prod-app-02");
    assert.deepEqual(d.quorumLost, ["etcd"]);
    assert.match(d.lost[0], /etcd-1 placeable nowhere, etcd-2 on prod-app-02 \(1 of 3 remain, 2 needed: QUORUM LOST\)/);
  });

  void test("an unpinned stateful member is charged to every node it may run on", () => {
    const loose = service("vault-x", "vault", { stateful: true, mode: { replicas: 1 } });
    const report = analyseFailures(prod, prodTopo, platform(...members("vault", ["prod-app-01", "prod-app-02"]), loose));
    assert.deepEqual(domain(report, "node:prod-app-03").quorumLost, [], "3 members, majority 2: losing only the loose one keeps 2");
    assert.deepEqual(domain(report, "node:prod-app-01").quorumLost, ["vault"], "vault-1 and possibly vault-x");
    assert.deepEqual(domain(report, "node:prod-mgr-01").quorumLost, []);
  });

  void test("majority", () => {
    assert.deepEqual([1, 2, 3, 4, 5].map(majority), [1, 2, 2, 3, 3]);
  });
});

void describe("stateless replicas", () => {
  const topo: Topology = prodTopo;
  const at = (svc: ServiceSpec, id: string) => domain(analyseFailures(prod, topo, platform(svc)), id).stateless;

  void test("6 replicas without a cap: even spread puts at most 2 on a node", () => {
    const svc = service("api", "api", { mode: { replicas: 6 } });
    assert.deepEqual(at(svc, "node:prod-app-03"), [{ service: "api", mode: "replicated", running: 6, lost: 2, remaining: 4, afterReschedule: 6 }]);
  });

  void test("replicas above what max_replicas_per_node allows: only the placeable ones run", () => {
    const svc = service("api", "api", { mode: { replicas: 5 }, placement: { constraints: [], spread: [], maxReplicasPerNode: 1 } });
    assert.deepEqual(at(svc, "node:prod-app-01"), [{ service: "api", mode: "replicated", running: 3, lost: 1, remaining: 2, afterReschedule: 2 }]);
  });

  void test("a global service loses the task of each failed eligible node", () => {
    const svc = service("agent", "agent", { mode: { global: true }, placement: { constraints: [], spread: [] } });
    assert.deepEqual(at(svc, "location:nbg1"), [{ service: "agent", mode: "global", running: 3, lost: 1, remaining: 2, afterReschedule: 2 }]);
    assert.deepEqual(at(svc, "node:prod-mgr-02"), [{ service: "agent", mode: "global", running: 3, lost: 0, remaining: 3, afterReschedule: 3 }], "drained managers run no tasks");
  });

  void test("spread over locations: a location holds at most its share", () => {
    const cfg = load("prod", {
      nodePools: [
        "mgr role=manager count=3 type=cx33 locations=fsn1,nbg1,hel1 ipOffset=10",
        "app role=worker count=4 type=cx43 locations=fsn1,nbg1 labels=type:service ipOffset=30",
      ],
    });
    const t = buildTopology(cfg);
    const svc = service("api", "api", { mode: { replicas: 4 }, placement: { constraints: [], spread: ["node.labels.location"] } });
    const report = analyseFailures(cfg, t, platform(svc));
    assert.deepEqual(domain(report, "location:fsn1").stateless, [{ service: "api", mode: "replicated", running: 4, lost: 2, remaining: 2, afterReschedule: 4 }]);
    assert.deepEqual(domain(report, "node:prod-app-01").stateless, [{ service: "api", mode: "replicated", running: 4, lost: 1, remaining: 3, afterReschedule: 4 }]);
  });

  void test("a service pinned to the edge is gone with it and cannot come back elsewhere", () => {
    const svc = service("edge-proxy", "edge", { placement: { constraints: [pinTo(topo.edge)], spread: [] } });
    assert.deepEqual(at(svc, "node:prod-app-01"), [{ service: "edge-proxy", mode: "replicated", running: 1, lost: 1, remaining: 0, afterReschedule: 0 }]);
    assert.deepEqual(at(svc, "node:prod-app-02"), [{ service: "edge-proxy", mode: "replicated", running: 1, lost: 0, remaining: 1, afterReschedule: 1 }]);
  });
});

void describe("the offline plan carries the analysis", () => {
  void test("JSON failureAnalysis[] for prod: every domain, with domain, lost[] and quorumLost[]", async () => {
    const { report } = await planStack(ROOT, "prod");
    const json = JSON.parse(JSON.stringify(report)) as { failureAnalysis: { domain: string; lost: string[]; quorumLost: string[]; floatingIp: string; floatingIpMovesTo?: string[] }[]; warnings: string[] };
    assert.deepEqual(json.failureAnalysis.map((d) => d.domain), [
      "node:prod-mgr-01", "node:prod-mgr-02", "node:prod-mgr-03",
      "node:prod-app-01", "node:prod-app-02", "node:prod-app-03",
      "location:fsn1", "location:nbg1", "location:hel1",
    ]);
    for (const d of json.failureAnalysis) {
      assert.ok(Array.isArray(d.lost) && Array.isArray(d.quorumLost), d.domain);
      if (d.domain.startsWith("node:")) assert.deepEqual(d.quorumLost, [], d.domain);
    }
    assert.equal(json.failureAnalysis[3].floatingIp, "kept");
    assert.deepEqual(json.failureAnalysis[3].floatingIpMovesTo, ["prod-app-02"]);
    assert.ok(!json.warnings.some((w) => w.includes("quorum")), json.warnings.join("\n"));
    const text = renderTable(report);
    assert.match(text, /\nFailure analysis: one line per failure domain .*\nDOMAIN +QUORUM LOST +FLOATING IP +WHAT IS LOST\n/);
    assert.match(text, /\nnode:prod-mgr-01 +none +kept +members: swarm-managers 2\/3\n/);
    assert.match(renderTable(report, { verbose: true }), /\nnode:prod-mgr-01 +none +kept +swarm manager prod-mgr-01 \(2 of 3 remain, 2 needed\)\n/);
  });

  void test("a prod stack that loses a quorum with one node gets a plan warning; test does not", () => {
    const report = analyseFailures(prod, prodTopo, platform(...members("etcd", ["prod-app-01", "prod-app-01", "prod-app-02"])));
    assert.deepEqual(failureWarnings("prod", report), [
      "failure of prod-app-01 alone loses the quorum of etcd: a prod stack must survive any single node",
    ]);
    assert.deepEqual(failureWarnings("test", report), []);
  });
});
