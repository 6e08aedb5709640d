import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import { parse } from "yaml";
import { runProgram, reveal, type ProgramRun, SecretValue } from "../tools/mock-runtime";
import { stackFileConfig } from "./support/config";
import { publicKeyFromPrivate } from "../lib/ssh";
import { TEST_PRIVATE_KEY } from "./support/config";

const FLOATING = "203.0.113.10";
const DEPLOY_KEY = publicKeyFromPrivate(TEST_PRIVATE_KEY)!;

/** Computed values a real `pulumi up` would return, so applies run. */
function state(args: { type: string; name: string; inputs: Record<string, unknown> }): Record<string, unknown> | undefined {
  if (args.type === "hcloud:index/floatingIp:FloatingIp") return { ipAddress: FLOATING };
  if (args.type === "hcloud:index/server:Server") return { ipv4Address: `198.51.100.${10 + Number(/(\d+)$/.exec(args.name)![1])}` };
  if (args.type === "command:remote:Command") return { stdout: "SWMTKN-1-test-token", stderr: "" };
  return undefined;
}

const LABELS = { "managed-by": "pulumi", project: "swarm-platform" };

for (const stack of ["test", "prod"] as const) {
  describe(`Hetzner resources (${stack})`, () => {
    let run: ProgramRun;
    const prod = stack === "prod";
    const labels = { ...LABELS, stack };
    before(async () => {
      run = await runProgram(stack, stackFileConfig(stack), { state });
    });

    test("SSH key: the deploy key's public half", () => {
      const key = run.one("hcloud:index/sshKey:SshKey", "cluster-deploy-key");
      assert.deepEqual(key.inputs, { name: `${stack}-deploy`, publicKey: DEPLOY_KEY, labels });
    });

    test("network and subnet", () => {
      const net = run.one("hcloud:index/network:Network", "cluster-network");
      assert.deepEqual(net.inputs, { name: `${stack}-net`, ipRange: "10.20.0.0/16", deleteProtection: prod, labels });
      assert.equal(net.options.protect, prod);
      const subnet = run.one("hcloud:index/networkSubnet:NetworkSubnet", "cluster-subnet");
      assert.deepEqual(subnet.inputs, { networkId: Number(net.id), type: "cloud", networkZone: "eu-central", ipRange: "10.20.1.0/24" });
    });

    test("placement groups: spread, one per pool", () => {
      assert.deepEqual(run.byType("hcloud:index/placementGroup:PlacementGroup").map((g) => g.inputs), [
        { name: `${stack}-mgr-spread-1`, type: "spread", labels: { ...labels, pool: "mgr" } },
        { name: `${stack}-app-spread-1`, type: "spread", labels: { ...labels, pool: "app" } },
      ]);
    });

    test("firewalls: default deny, SSH from admin ranges, 80/443 only on the edge", () => {
      const base = run.one("hcloud:index/firewall:Firewall", "cluster-fw-base");
      assert.deepEqual(base.inputs, {
        name: `${stack}-base`,
        labels: { ...labels, role: "base" },
        rules: [
          { description: "SSH from admin ranges", direction: "in", protocol: "tcp", port: "2222", sourceIps: ["198.51.100.0/24"] },
          { description: "ICMP (ping, path MTU discovery)", direction: "in", protocol: "icmp", sourceIps: ["0.0.0.0/0", "::/0"] },
        ],
      });
      const edge = run.one("hcloud:index/firewall:Firewall", "cluster-fw-edge");
      assert.deepEqual(edge.inputs, {
        name: `${stack}-edge`,
        labels: { ...labels, role: "edge" },
        rules: [
          { description: "HTTP (ACME challenge, redirect to HTTPS)", direction: "in", protocol: "tcp", port: "80", sourceIps: ["0.0.0.0/0", "::/0"] },
          { description: "HTTPS", direction: "in", protocol: "tcp", port: "443", sourceIps: ["0.0.0.0/0", "::/0"] },
        ],
      });
    });

    test("the CI door: declared shut, labelled as scripts/ci/ssh-door.sh finds it, its rules left to CI", () => {
      const door = run.one("hcloud:index/firewall:Firewall", "cluster-fw-ci-door");
      // No `rules` key at all: the provider then sends none (TF firewall/resource.go:149, GetOk on an empty set).
      assert.deepEqual(door.inputs, { name: `${stack}-ci-door`, labels: { ...labels, role: "ci-door" } });
      // ssh-door.sh's selector: project=swarm-platform,stack=<stack>,role=ci-door.
      assert.equal(door.inputs.labels.project, "swarm-platform");
      assert.equal(door.inputs.labels.stack, stack);
      // `pulumi up` never shuts a door a running job opened, and a refresh of an open door is no drift.
      assert.deepEqual(door.options.ignoreChanges, ["rules"]);
      for (const fw of ["cluster-fw-base", "cluster-fw-edge"]) assert.equal(run.one("hcloud:index/firewall:Firewall", fw).options.ignoreChanges, undefined, fw);
    });

    test("servers: image by name, firewalls attached at creation, never replaced by drift-prone inputs", () => {
      const servers = run.byType("hcloud:index/server:Server").sort((a, b) => a.name.localeCompare(b.name));
      const base = run.one("hcloud:index/firewall:Firewall", "cluster-fw-base");
      const edgeFw = run.one("hcloud:index/firewall:Firewall", "cluster-fw-edge");
      const door = run.one("hcloud:index/firewall:Firewall", "cluster-fw-ci-door");
      const key = run.one("hcloud:index/sshKey:SshKey", "cluster-deploy-key");
      const expected = prod
        ? [["prod-mgr-01", "cx23", "fsn1", "manager", "mgr"], ["prod-mgr-02", "cx23", "nbg1", "manager", "mgr"], ["prod-mgr-03", "cx23", "hel1", "manager", "mgr"],
          ["prod-app-01", "cx43", "fsn1", "worker", "app"], ["prod-app-02", "cx43", "nbg1", "worker", "app"], ["prod-app-03", "cx43", "hel1", "worker", "app"]]
        : [["test-mgr-01", "cx23", "fsn1", "manager", "mgr"], ["test-app-01", "cx33", "fsn1", "worker", "app"], ["test-app-02", "cx33", "fsn1", "worker", "app"]];
      expected.sort((a, b) => a[0].localeCompare(b[0]));
      assert.deepEqual(servers.map((s) => s.name), expected.map((e) => `cluster-${e[0]}`));
      for (const [i, s] of servers.entries()) {
        const [name, type, location, role, pool] = expected[i];
        const group = run.one("hcloud:index/placementGroup:PlacementGroup", `cluster-${stack}-${pool}-spread-1`);
        const { userData, ...rest } = s.inputs;
        assert.deepEqual(rest, {
          name,
          serverType: type,
          image: "debian-12",
          location,
          placementGroupId: Number(group.id),
          sshKeys: [key.id],
          // The edge candidates: test-app-01 in test, prod-app-01 and prod-app-02 in prod.
          firewallIds: (prod ? ["prod-app-01", "prod-app-02"] : ["test-app-01"]).includes(name) ? [Number(base.id), Number(edgeFw.id), Number(door.id)] : [Number(base.id), Number(door.id)],
          publicNets: [{ ipv4Enabled: true, ipv6Enabled: true }],
          keepDisk: true,
          shutdownBeforeDeletion: true,
          deleteProtection: prod,
          rebuildProtection: prod,
          labels: { ...labels, pool, role },
        }, name);
        assert.equal((parse(reveal(userData) as string) as { hostname: string }).hostname, name);
        assert.deepEqual(s.options.ignoreChanges, ["userData", "image", "sshKeys"]);
        assert.equal(s.options.protect, prod);
      }
    });

    test("replacements delete first wherever the successor would clash with its predecessor", () => {
      const order = (type: string) => run.byType(`hcloud:index/${type}`).map((r) => [r.name, r.options.deleteBeforeReplace]);
      for (const type of ["server:Server", "network:Network", "networkSubnet:NetworkSubnet", "placementGroup:PlacementGroup", "floatingIp:FloatingIp", "sshKey:SshKey", "serverNetwork:ServerNetwork"]) {
        const got = order(type);
        assert.ok(got.length > 0, type);
        assert.deepEqual(got, got.map(([name]) => [name, true]), type);
      }
    });

    test("servers of a pool update one at a time: each waits for the previous server of its pool", () => {
      const deps = (node: string): readonly string[] => run.one("hcloud:index/server:Server", `cluster-${node}`).options.dependsOn;
      const pools = prod
        ? [["prod-mgr-01", "prod-mgr-02", "prod-mgr-03"], ["prod-app-01", "prod-app-02", "prod-app-03"]]
        : [["test-mgr-01"], ["test-app-01", "test-app-02"]];
      for (const pool of pools) {
        assert.deepEqual(deps(pool[0]), [], pool[0]);
        for (let i = 1; i < pool.length; i++) assert.deepEqual(deps(pool[i]), [`cluster-${pool[i - 1]}`], pool[i]);
      }
    });

    test("Hetzner's limits: every firewall the program owns the rules of has 1 to 50, every server at most 5 firewalls", () => {
      const firewalls = run.byType("hcloud:index/firewall:Firewall").filter((f) => f.name !== "cluster-fw-ci-door");
      assert.ok(firewalls.length >= 2);
      for (const f of firewalls) {
        const rules = (f.inputs.rules as unknown[]).length;
        // The provider ignores the removal of a firewall's last rule, and the API takes at most 50.
        assert.ok(rules >= 1 && rules <= 50, `${f.name}: ${rules} rules`);
      }
      for (const s of run.byType("hcloud:index/server:Server")) {
        const attached = (s.inputs.firewallIds as unknown[]).length;
        assert.ok(attached >= 1 && attached <= 5, `${s.name}: ${attached} firewalls`);
      }
    });

    test("each server joins the subnet with its fixed private IP", () => {
      const subnet = run.one("hcloud:index/networkSubnet:NetworkSubnet", "cluster-subnet");
      const attachments = run.byType("hcloud:index/serverNetwork:ServerNetwork").sort((a, b) => String(a.inputs.ip).localeCompare(String(b.inputs.ip)));
      const ips = prod ? ["10.20.1.10", "10.20.1.11", "10.20.1.12", "10.20.1.30", "10.20.1.31", "10.20.1.32"] : ["10.20.1.10", "10.20.1.30", "10.20.1.31"];
      assert.deepEqual(attachments.map((a) => a.inputs.ip), ips);
      for (const a of attachments) {
        const server = run.one("hcloud:index/server:Server", a.name.replace(/-private$/, ""));
        assert.deepEqual(a.inputs, { serverId: Number(server.id), subnetId: subnet.id, ip: a.inputs.ip });
      }
    });

    test("floating IP on the first edge candidate, configured in every candidate's cloud-init", () => {
      const fip = run.one("hcloud:index/floatingIp:FloatingIp", "cluster-floating-ip");
      assert.deepEqual(fip.inputs, {
        name: `${stack}-edge`,
        type: "ipv4",
        homeLocation: "fsn1",
        description: prod ? "Edge address of prod, held by one of prod-app-01, prod-app-02" : "Edge address of test, held by test-app-01",
        deleteProtection: prod,
        labels,
      });
      assert.equal(fip.options.protect, prod);
      const edge = run.one("hcloud:index/server:Server", `cluster-${stack}-app-01`);
      const assignment = run.one("hcloud:index/floatingIpAssignment:FloatingIpAssignment", "cluster-floating-ip-assignment");
      assert.deepEqual(assignment.inputs, {
        floatingIpId: Number(fip.id),
        serverId: Number(edge.id),
      });
      // With a failover keepalived moves the address; `up` must not move it back.
      assert.deepEqual(assignment.options.ignoreChanges ?? [], prod ? ["serverId"] : []);
      const candidates = prod ? ["prod-app-01", "prod-app-02"] : ["test-app-01"];
      for (const s of run.byType("hcloud:index/server:Server")) {
        const text = reveal(s.inputs.userData) as string;
        const candidate = candidates.includes(s.inputs.name as string);
        assert.equal(/60-floating-ip[\s\S]*address 203\.0\.113\.10/.test(text), candidate, `${s.name}: floating IP configured`);
        assert.equal(text.includes("/etc/keepalived/keepalived.conf"), candidate && prod, `${s.name}: failover`);
      }
      assert.equal(run.outputs.floatingIp, FLOATING);
    });

    test("the same config declares byte-identical inputs (no spurious diff on the next preview)", async () => {
      const again = await runProgram(stack, stackFileConfig(stack), { state });
      const strip = (r: ProgramRun) => [...r.resources].sort((a, b) => `${a.type}${a.name}`.localeCompare(`${b.type}${b.name}`)).filter((x) => x.type.startsWith("hcloud:")).map((x) => [x.type, x.name, JSON.stringify(x.inputs, (k, v) => (/Ids?$|^sshKeys$/.test(k) ? "<id>" : v))]);
      assert.deepEqual(strip(again), strip(run));
    });

    test("outputs known before deploy", () => {
      assert.equal(run.outputs.edgeNode, `${stack}-app-01`);
      const key: unknown = run.outputs.deployPublicKey;
      assert.ok(!(key instanceof SecretValue), "the public key is not secret");
      assert.equal(key, DEPLOY_KEY);
    });
  });
}
