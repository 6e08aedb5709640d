import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { loadStackConfig, ALL_SETTINGS } from "../platform/config";
import { loadStack, withOverrides, TEST_PRIVATE_KEY, problemsOf } from "./support/config";

const mgr3 = "mgr role=manager count=3 type=cx33 locations=fsn1,nbg1,hel1";
const app3 = "app role=worker count=3 type=cx43 locations=fsn1,nbg1,hel1 labels=type:service ipOffset=30";

/** [what, stack, overrides, key the error must name, text the expectation must contain, given text] */
const BAD: [string, "test" | "prod", Record<string, unknown>, string, string, string][] = [
  ["unknown key", "test", { sshPortt: "22" }, "sshPortt", "a known setting", '"22"'],
  ["port not a number", "test", { sshPort: "ssh" }, "sshPort", "an integer from 1 to 65535", '"ssh"'],
  ["port out of range", "test", { sshPort: "70000" }, "sshPort", "an integer from 1 to 65535", '"70000"'],
  ["port on a Swarm port", "test", { sshPort: "2377" }, "sshPort", "a port other than 2377, 7946, 4789, 80, 443", "2377"],
  ["boolean as word", "test", { protect: "yes" }, "protect", "true or false", '"yes"'],
  ["unknown profile", "test", { profile: "staging" }, "profile", 'one of "test", "prod"', '"staging"'],
  ["bad name prefix", "test", { namePrefix: "Prod_1" }, "namePrefix", "lowercase", '"Prod_1"'],
  ["pools not a list", "test", { nodePools: "mgr" }, "nodePools", "a list of pools", '"mgr"'],
  ["empty pool list", "test", { nodePools: [] }, "nodePools", "at least one pool", "[]"],
  ["even managers", "prod", { nodePools: ["mgr role=manager count=2 type=cx33 locations=fsn1", app3] }, "nodePools", "an odd number of managers", "2 managers"],
  ["zero managers", "prod", { nodePools: [app3] }, "nodePools", "at least one pool with role=manager", "no manager"],
  ["duplicate pool names (so duplicate node names)", "prod", { nodePools: [mgr3, "mgr role=worker count=1 type=cx23 locations=fsn1 ipOffset=60"] }, "nodePools", "pool names that are unique", "two pools named mgr"],
  ["bad role", "test", { nodePools: ["mgr role=boss count=1 type=cx23 locations=fsn1"] }, "nodePools[0].role", "role=manager or role=worker", '"boss"'],
  ["count zero", "test", { nodePools: ["mgr role=manager count=0 type=cx23 locations=fsn1"] }, "nodePools[0].count", "count= an integer from 1 to 99", '"0"'],
  ["bad server type format", "test", { nodePools: ["mgr role=manager count=1 type=large locations=fsn1"] }, "nodePools[0].type", "a Hetzner server type such as cx23", '"large"'],
  ["unknown location", "test", { nodePools: ["mgr role=manager count=1 type=cx23 locations=fra1"] }, "nodePools[0].locations", "Hetzner locations from fsn1", '"fra1"'],
  ["location outside the network zone", "test", { nodePools: ["mgr role=manager count=1 type=cx23 locations=ash"], edgeCandidates: ["test-mgr-01"] }, "nodePools[0].locations", "locations in network zone eu-central", "ash (zone us-east)"],
  ["unknown pool field", "test", { nodePools: ["mgr role=manager count=1 type=cx23 locations=fsn1 size=big"] }, "nodePools[0]", "fields role=, count=", '"size=big"'],
  ["bad label", "test", { nodePools: ["mgr role=manager count=1 type=cx23 locations=fsn1 labels=type"], edgeCandidates: ["test-mgr-01"] }, "nodePools[0].labels", "labels as key:value pairs", '"type"'],
  ["subnet outside the network", "test", { subnetCidr: "10.99.1.0/24" }, "subnetCidr", "a range inside networkCidr 10.20.0.0/16", '"10.99.1.0/24"'],
  ["subnet too small for the nodes", "test", { subnetCidr: "10.20.1.0/28" }, "nodePools[1]", "node addresses inside subnetCidr 10.20.1.0/28", "pool app needs host numbers 30-31"],
  ["subnet not a CIDR", "test", { subnetCidr: "10.20.1.0" }, "subnetCidr", "an IPv4 CIDR", '"10.20.1.0"'],
  ["CIDR with host bits", "test", { networkCidr: "10.20.0.1/16" }, "networkCidr", "an IPv4 CIDR", '"10.20.0.1/16"'],
  ["pool address ranges overlap", "test", { nodePools: ["mgr role=manager count=1 type=cx23 locations=fsn1 ipOffset=10", "app role=worker count=2 type=cx33 locations=fsn1 ipOffset=10"] }, "nodePools[0].ipOffset", "address ranges that do not overlap", "pool mgr 10-10 overlaps pool app 10-11"],
  ["swarm pool overlaps the network", "test", { swarmAddrPool: "10.20.128.0/17" }, "swarmAddrPool", "a range that does not overlap networkCidr", '"10.20.128.0/17"'],
  ["swarm pool overlaps docker0", "test", { swarmAddrPool: "172.16.0.0/12" }, "swarmAddrPool", "Docker's default bridge", '"172.16.0.0/12"'],
  ["SSH open to the world in prod", "prod", { sshAllowedCidrs: ["0.0.0.0/0"] }, "sshAllowedCidrs", "admin ranges only in prod", '["0.0.0.0/0"]'],
  ["SSH open to the world (IPv6) in prod", "prod", { sshAllowedCidrs: ["198.51.100.0/24", "::/0"] }, "sshAllowedCidrs", "no 0.0.0.0/0 or ::/0", "::/0"],
  ["no SSH source at all", "test", { sshAllowedCidrs: [] }, "sshAllowedCidrs", "a non-empty list of CIDRs", "[]"],
  ["SSH source not a CIDR", "test", { sshAllowedCidrs: ["office"] }, "sshAllowedCidrs[0]", "an IPv4 or IPv6 CIDR", '"office"'],
  ["edge candidate that does not exist", "prod", { edgeCandidates: ["prod-app-01", "prod-app-09"] }, "edgeCandidates[1]", "the name of a node of this stack", '"prod-app-09"'],
  ["edge candidate on a drained manager", "prod", { edgeCandidates: ["prod-mgr-01"] }, "edgeCandidates[0]", "a node that takes workloads", '"prod-mgr-01"'],
  ["edge candidate listed twice", "prod", { edgeCandidates: ["prod-app-01", "prod-app-01"] }, "edgeCandidates[1]", "each node listed once", '"prod-app-01"'],
  ["a stack file that still sets edgeNode", "prod", { edgeNode: "prod-app-01" }, "edgeNode", "no longer a setting: replaced by edgeCandidates", '"prod-app-01"'],
  ["encrypted overlay MTU too large", "test", { overlayMtu: "1400" }, "overlayMtu", "1350 or less while overlayEncrypted is true", "1400"],
  ["overlay MTU beyond the private network", "test", { overlayMtu: "1500" }, "overlayMtu", "an integer from 1200 to 1400", '"1500"'],
  ["missing deploy key", "test", { sshPrivateKey: undefined }, "sshPrivateKey", "pulumi config set --secret sshPrivateKey", "nothing (the setting is missing)"],
  ["deploy key that is no key", "test", { sshPrivateKey: "hunter2" }, "sshPrivateKey", "no unencrypted OpenSSH or PEM ed25519 private key", '"[secret]"'],
  ["root as deploy user", "test", { sshUser: "root" }, "sshUser", "not root", '"root"'],
  ["unpinned docker version", "test", { dockerVersion: "latest" }, "dockerVersion", "a docker-ce version", '"latest"'],
  ["managers drained and no worker pool", "test", { managersRunWorkloads: "false", nodePools: ["mgr role=manager count=1 type=cx23 locations=fsn1"], edgeCandidates: ["test-mgr-01"] }, "managersRunWorkloads", "true when there is no worker pool", "false"],
  ["public key line malformed", "test", { sshAdditionalPublicKeys: ["AAAA me@laptop"] }, "sshAdditionalPublicKeys[0]", "an OpenSSH public key line", '"AAAA me@laptop"'],
  ["unknown endpoint mode", "test", { endpointMode: "mesh" }, "endpointMode", 'one of "vip", "dnsrr"', '"mesh"'],
];

describe("stack config validation", () => {
  test(`covers at least 25 distinct bad inputs (has ${BAD.length})`, () => {
    assert.ok(BAD.length >= 25);
    assert.equal(new Set(BAD.map((b) => b[0])).size, BAD.length);
  });

  for (const [what, stack, overrides, key, expected, given] of BAD) {
    test(`rejects ${what}: names ${key}`, () => {
      const err = problemsOf(() => loadStack(stack, overrides));
      const problem = err.problems.find((p) => p.key === key);
      assert.ok(problem, `no problem for key ${key}; got: ${err.message}`);
      assert.match(err.message, new RegExp(`swarm-platform:${key.replace(/[[\].]/g, "\\$&")}: expected `));
      assert.ok(problem.expected.includes(expected), `expected text ${JSON.stringify(problem.expected)} lacks ${JSON.stringify(expected)}`);
      const line = err.message.split("\n").find((l) => l.includes(`swarm-platform:${key}: expected`))!;
      assert.ok(line.includes(`got ${given}`) || line.includes(given), `line ${JSON.stringify(line)} lacks the given value ${given}`);
    });
  }

  test("reports every problem at once", () => {
    const err = problemsOf(() => loadStack("test", { sshPort: "x", protect: "maybe", namePrefix: "X" }));
    assert.deepEqual(err.keys.sort(), ["namePrefix", "protect", "sshPort"]);
  });

  test("a stack that is not test or prod needs an explicit profile", () => {
    const raw = withOverrides("test", { profile: undefined });
    const err = problemsOf(() => loadStackConfig("staging", raw));
    assert.deepEqual(err.keys, ["profile"]);
    assert.equal(loadStackConfig("staging", { ...raw, "swarm-platform:profile": "test" }).profile, "test");
  });

  test("secret values never appear in an error", () => {
    const err = problemsOf(() => loadStack("test", { sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0\n-----END OPENSSH PRIVATE KEY-----" }));
    assert.ok(!err.message.includes("c2VjcmV0"));
  });
});

describe("stack config values", () => {
  test("prod: defaults from the profile, overrides from the stack file, frozen", () => {
    const cfg = loadStack("prod");
    assert.equal(cfg.profile, "prod");
    assert.equal(cfg.namePrefix, "prod");
    assert.equal(cfg.managersRunWorkloads, false);
    assert.equal(cfg.protect, true);
    assert.deepEqual(cfg.ssh.allowedCidrs, ["198.51.100.0/24"]);
    assert.equal(cfg.ssh.port, 2222);
    assert.equal(cfg.ssh.privateKey, TEST_PRIVATE_KEY);
    assert.deepEqual(cfg.edgeCandidates, ["prod-app-01", "prod-app-02"]);
    assert.deepEqual(cfg.nodePools.map((p) => [p.name, p.role, p.count, p.serverType, p.locations.join(","), p.ipOffset]), [
      ["mgr", "manager", 3, "cx23", "fsn1,nbg1,hel1", 10],
      ["app", "worker", 3, "cx43", "fsn1,nbg1,hel1", 30],
    ]);
    assert.ok(Object.isFrozen(cfg) && Object.isFrozen(cfg.ssh) && Object.isFrozen(cfg.nodePools[0].labels));
    assert.throws(() => {
      (cfg.ssh as { port: number }).port = 22;
    }, TypeError);
  });

  test("test: smaller and cheaper, managers take workloads", () => {
    const cfg = loadStack("test");
    assert.equal(cfg.managersRunWorkloads, true);
    assert.equal(cfg.protect, false);
    assert.deepEqual(cfg.nodePools.map((p) => `${p.name}:${p.count}:${p.serverType}`), ["mgr:1:cx23", "app:2:cx33"]);
  });

  test("config values arrive as strings from the CLI and as YAML values offline: both parse alike", () => {
    const fromCli = loadStack("test", { sshPort: "2200", protect: "true", sshAllowedCidrs: JSON.stringify(["192.0.2.0/24"]) });
    assert.equal(fromCli.ssh.port, 2200);
    assert.equal(fromCli.protect, true);
    assert.deepEqual(fromCli.ssh.allowedCidrs, ["192.0.2.0/24"]);
  });

  test("every setting has a description, an expected form, and a default or is required on purpose", () => {
    const required = ALL_SETTINGS.filter((s) => s.default === undefined).map((s) => s.key).sort();
    assert.deepEqual(required.filter((k) => !["profile", "sshAllowedCidrs"].includes(k)), ALL_SETTINGS.filter((s) => s.secret && s.default === undefined).map((s) => s.key).sort());
    for (const s of ALL_SETTINGS) {
      assert.ok(s.description.length > 20, `${s.key} description`);
      assert.ok(s.expected.length > 3, `${s.key} expected`);
    }
  });
});

describe("config errors people can act on", () => {
  test("a CIDR with host bits says so and names the network", () => {
    const err = problemsOf(() => loadStack("test", { networkCidr: "10.20.0.1/16", sshAllowedCidrs: ["192.0.2.7/24"] }));
    assert.match(err.message, /swarm-platform:networkCidr: expected an IPv4 CIDR such as 10\.0\.0\.0\/16; 10\.20\.0\.1\/16 has host bits set: the network is 10\.20\.0\.0\/16, got "10\.20\.0\.1\/16"/);
    assert.match(err.message, /swarm-platform:sshAllowedCidrs\[0\]: expected .*; 192\.0\.2\.7\/24 has host bits set: the network is 192\.0\.2\.0\/24/);
  });

  test("the edgeCandidates hint names a node that exists and takes workloads", () => {
    const err = problemsOf(() => loadStack("prod", { edgeCandidates: ["prod-app-09"] }));
    assert.match(err.message, /swarm-platform:edgeCandidates\[0\]: expected the name of a node of this stack that takes workloads, e\.g\. prod-app-01, got "prod-app-09"/);
    const drained = problemsOf(() => loadStack("prod", { edgeCandidates: ["prod-mgr-01"] }));
    assert.match(drained.message, /managersRunWorkloads is false\), e\.g\. prod-app-01, got "prod-mgr-01"/);
  });

  test("a documentation range as admin range is a warning that the deploy will not reach the nodes", () => {
    assert.deepEqual(loadStack("test", { sshAllowedCidrs: ["192.0.2.0/24"] }).configWarnings.filter((w) => w.startsWith("sshAllowedCidrs")).length, 1);
    assert.match(loadStack("prod").configWarnings.join("\n"), /sshAllowedCidrs holds 198\.51\.100\.0\/24, a documentation range \(placeholder\): the deploy and the bootstrap will not reach the nodes over SSH/);
    assert.deepEqual(loadStack("test", { sshAllowedCidrs: ["203.0.112.0/24"] }).configWarnings, []);
  });

  test("a stack file value of (profile) or an empty profile means the profile's default", () => {
    const cfg = loadStack("prod", { profile: "", nodePools: "(profile)", protect: "(profile)", redisMembers: "(profile)" });
    assert.equal(cfg.profile, "prod");
    assert.deepEqual(cfg.nodePools.map((p) => p.serverType), ["cx23", "cx43"]);
    assert.equal(cfg.protect, true);
  });
});
