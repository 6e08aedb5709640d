/**
 * The policy pack: every policy called directly with good and bad resources,
 * the real program's resources (prod and test, under mocks) against every
 * mandatory policy, and the pack loaded by Pulumi's own policy runner (ts-node,
 * gRPC analyzer on 127.0.0.1) the way `pulumi preview --policy-pack policy` does.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import type {
  PolicyResource,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import {
  COMPONENT_LABEL, isStatefulService, isWorldCidr, MEMBER_LABEL, noWorldOpenSshOrSwarmPorts, overlayNetworkOptionsSane, parseImage, parsePortRange,
  POLICIES, prodManagerQuorum, prodOverlayNetworksEncrypted, prodServersDeleteProtection, prodServersFullyProtected,
  secretLooking, stackOfUrn, STATEFUL_LABEL, statefulMembersOnDistinctNodes, statefulMembersPinned, statefulMembersStopFirst,
  SWARM_STACK_LABEL, swarmServiceHealthcheck, swarmServiceImageDigest, swarmServiceNoSecretInEnv, swarmServicePinnedImage,
  swarmServiceReservations, swarmServiceResourceLimits, swarmServiceRollsBack, TYPES, worldOpenOnlyWebPorts,
} from "../policy/policies";
import { runProgram, reveal, type ProgramRun } from "../tools/mock-runtime";
import { ROOT, withOverrides } from "./support/config";

type Props = Record<string, unknown>;

interface Fake {
  readonly type: string;
  readonly props: Props;
  readonly stack?: string;
  readonly name?: string;
  readonly protect?: boolean;
  readonly config?: object;
}

const urnOf = (stack: string, type: string, name: string): string => `urn:pulumi:${stack}::swarm-platform::${type}::${name}`;

class NotApplicable extends Error {}

function resourceArgs(r: Fake): ResourceValidationArgs {
  const name = r.name ?? "res";
  return {
    type: r.type,
    props: r.props,
    urn: urnOf(r.stack ?? "test", r.type, name),
    name,
    opts: { protect: r.protect ?? false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [] },
    stackTags: new Map(),
    isType: () => false,
    asType: () => undefined,
    getConfig: <T extends object>() => (r.config ?? {}) as T,
    notApplicable: (reason?: string) => {
      throw new NotApplicable(reason);
    },
  };
}

/** Runs one resource policy the way the runtime does and returns its violation messages. */
async function check(policy: ResourceValidationPolicy, r: Fake): Promise<string[]> {
  const messages: string[] = [];
  const validations = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource!];
  for (const v of validations) await v(resourceArgs(r), (m) => messages.push(m));
  return messages;
}

async function checkStack(policy: StackValidationPolicy, resources: Fake[], config: object = {}): Promise<{ message: string; urn?: string }[]> {
  const out: { message: string; urn?: string }[] = [];
  const policyResources = resources.map((r, i) => {
    const a = resourceArgs({ ...r, name: r.name ?? `r${i}` });
    return { type: a.type, props: a.props, urn: a.urn, name: a.name, opts: a.opts, dependencies: [], propertyDependencies: {}, isType: () => false, asType: () => undefined } as PolicyResource;
  });
  const args: StackValidationArgs = {
    resources: policyResources,
    stackTags: new Map(),
    getConfig: <T extends object>() => config as T,
    notApplicable: (reason?: string) => {
      throw new NotApplicable(reason);
    },
  };
  await policy.validateStack(args, (message, urn) => out.push({ message, urn }));
  return out;
}

// ---------------------------------------------------------------------------
// Good resources, shaped like the @pulumi/docker 5.2.0 and @pulumi/hcloud inputs.

function firewall(rules: Props[]): Fake {
  return { type: TYPES.firewall, props: { name: "prod-base", labels: { stack: "prod" }, rules } };
}

const WORLD = ["0.0.0.0/0", "::/0"];

function server(stack: string, props: Props = {}, protect = true): Fake {
  return {
    type: TYPES.server,
    stack,
    protect,
    props: { name: `${stack}-app-01`, serverType: "cx43", deleteProtection: true, rebuildProtection: true, labels: { "managed-by": "pulumi", stack, role: "worker" }, ...props },
  };
}

function goodService(over: Props = {}, taskOver: Props = {}, containerOver: Props = {}): Props {
  return {
    name: "prod_apisix",
    labels: [{ label: COMPONENT_LABEL, value: "apisix" }, { label: SWARM_STACK_LABEL, value: "prod" }],
    mode: { replicated: { replicas: 3 } },
    convergeConfig: { delay: "7s", timeout: "3m" },
    updateConfig: { parallelism: 1, order: "start-first", failureAction: "rollback" },
    taskSpec: {
      containerSpec: {
        image: "apache/apisix:3.12.0-debian@sha256:" + "a".repeat(64),
        env: { APISIX_STAND_ALONE: "false", REDIS_PASSWORD_FILE: "/run/secrets/redis_password" },
        healthcheck: { tests: ["CMD", "curl", "-fsS", "http://127.0.0.1:9080/"], interval: "10s", timeout: "3s", retries: 3 },
        ...containerOver,
      },
      resources: { limits: { memoryBytes: 512 * 1024 * 1024, nanoCpus: 1_000_000_000 }, reservation: { memoryBytes: 128 * 1024 * 1024, nanoCpus: 100_000_000 } },
      placement: { constraints: ["node.labels.type == service"], maxReplicas: 1 },
      ...taskOver,
    },
    ...over,
  };
}

function member(name: string, node: string | undefined, over: Props = {}): Props {
  return goodService({
    name: `prod_${name}`,
    labels: [{ label: COMPONENT_LABEL, value: name.replace(/-\d+$/, "") }, { label: STATEFUL_LABEL, value: "true" }],
    mode: { replicated: { replicas: 1 } },
    updateConfig: { parallelism: 1, order: "stop-first", failureAction: "rollback" },
    ...over,
  }, { placement: { constraints: node ? [`node.hostname == ${node}`, "node.labels.type == service"] : ["node.labels.type == service"] } });
}

const service = (props: Props, stack = "prod"): Fake => ({ type: TYPES.service, props, stack });
const network = (props: Props, stack = "prod"): Fake => ({ type: TYPES.network, props: { name: `${stack}_backend`, driver: "overlay", ...props }, stack });

// ---------------------------------------------------------------------------

void describe("helpers", () => {
  void test("URN stack, ports, world ranges and image references", () => {
    assert.equal(stackOfUrn("urn:pulumi:prod::swarm-platform::swarm:infra:Cluster$hcloud:index/server:Server::x"), "prod");
    assert.deepEqual(parsePortRange("22"), { from: 22, to: 22 });
    assert.deepEqual(parsePortRange("2000-3000"), { from: 2000, to: 3000 });
    assert.deepEqual(parsePortRange("any"), { from: 1, to: 65535 });
    assert.deepEqual(parsePortRange(undefined), { from: 1, to: 65535 });
    assert.equal(parsePortRange("ssh"), undefined);
    assert.equal(isWorldCidr("0.0.0.0/0"), true);
    assert.equal(isWorldCidr("::/0"), true);
    assert.equal(isWorldCidr("10.0.0.0/8"), false);
    assert.deepEqual(parseImage("redis:7.4.2"), { repository: "redis", tag: "7.4.2", digest: undefined });
    assert.deepEqual(parseImage("registry.example:5000/team/app"), { repository: "registry.example:5000/team/app", digest: undefined });
    assert.deepEqual(parseImage("registry.example:5000/team/app:1.0@sha256:" + "b".repeat(64)), { repository: "registry.example:5000/team/app", tag: "1.0", digest: "sha256:" + "b".repeat(64) });
  });

  void test("secret-looking environment entries, without ever echoing the value", () => {
    assert.equal(secretLooking("REDIS_PASSWORD", "hunter2hunter2"), "its name says it holds a secret");
    assert.equal(secretLooking("REDIS_PASSWORD_FILE", "/run/secrets/redis"), undefined);
    assert.equal(secretLooking("VAULT_TOKEN", "/vault/token"), undefined, "a path is where a secret is, not the secret");
    assert.equal(secretLooking("ALLOW_EMPTY_PASSWORD", "no"), undefined);
    assert.equal(secretLooking("TOKEN_TTL", "768h"), undefined);
    assert.equal(secretLooking("RABBITMQ_ERLANG_COOKIE", "abc"), "its name says it holds a secret");
    assert.equal(secretLooking("BROKER_URL", "amqp://app:s3cr3t@rabbitmq-1:5672/"), "its value looks like a URL with a password");
    assert.equal(secretLooking("BROKER_URL", "amqp://rabbitmq-1:5672/"), undefined);
    assert.equal(secretLooking("CERT", "-----BEGIN RSA PRIVATE KEY-----\nMIIE"), "its value looks like a private key");
    assert.equal(secretLooking("SOME_SETTING", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"), "its value looks like a random key");
    assert.equal(secretLooking("REDIS_SENTINEL_MASTER_NAME", "platform-redis-primary-with-a-long-name"), undefined);
    // Identifiers that look random by design, and etcd's cluster token (an identifier, not a secret).
    assert.equal(secretLooking("SENTINEL_MYID", "3f1c9a0e5b7d2c4f6a8b0c1d2e3f4a5b6c7d8e9f"), undefined);
    assert.equal(secretLooking("ETCD_INITIAL_CLUSTER_TOKEN", "prod-etcd"), undefined);
    assert.equal(secretLooking("VAULT_TOKEN", "s.Zk3mQ9xV7pL2nR8sT4wY"), "its name says it holds a secret");
    for (const [name, value] of [["X", "hunter2"], ["REDIS_PASSWORD", "hunter2hunter2"]]) {
      assert.ok(!(secretLooking(name, value) ?? "").includes(value));
    }
  });
});

void describe("no-world-open-ssh-or-swarm-ports (mandatory)", () => {
  void test("admin-range SSH, world 80/443 and ICMP pass", async () => {
    assert.deepEqual(await check(noWorldOpenSshOrSwarmPorts, firewall([
      { direction: "in", protocol: "tcp", port: "2222", sourceIps: ["198.51.100.0/24"] },
      { direction: "in", protocol: "icmp", sourceIps: WORLD },
      { direction: "in", protocol: "tcp", port: "80", sourceIps: WORLD },
      { direction: "in", protocol: "tcp", port: "443", sourceIps: WORLD },
      { direction: "out", protocol: "tcp", port: "any", destinationIps: WORLD },
    ])), []);
  });

  void test("SSH to the world, on 22, on the project's 2222, on a configured port, or inside a range", async () => {
    assert.deepEqual(await check(noWorldOpenSshOrSwarmPorts, firewall([{ direction: "in", protocol: "tcp", port: "22", sourceIps: ["0.0.0.0/0"] }])),
      ["rule 0 (tcp 22) of res opens SSH (port 22) to the whole internet: allow admin ranges only (sshAllowedCidrs)"]);
    assert.equal((await check(noWorldOpenSshOrSwarmPorts, firewall([{ direction: "in", protocol: "tcp", port: "2222", sourceIps: ["::/0"] }]))).length, 1);
    assert.deepEqual(await check(noWorldOpenSshOrSwarmPorts, { ...firewall([{ direction: "in", protocol: "tcp", port: "2200", sourceIps: WORLD }]), config: { sshPorts: [2200] } }),
      ["rule 0 (tcp 2200) of res opens SSH (port 2200) to the whole internet: allow admin ranges only (sshAllowedCidrs)"]);
    assert.deepEqual(await check(noWorldOpenSshOrSwarmPorts, firewall([{ direction: "in", protocol: "tcp", port: "1-1024", sourceIps: WORLD }])),
      ["rule 0 (tcp 1-1024) of res opens SSH (port 22) to the whole internet: allow admin ranges only (sshAllowedCidrs)"]);
  });

  void test("every Swarm port and ESP to the world", async () => {
    assert.deepEqual(await check(noWorldOpenSshOrSwarmPorts, firewall([
      { direction: "in", protocol: "tcp", port: "2377", sourceIps: WORLD },
      { direction: "in", protocol: "udp", port: "7946", sourceIps: WORLD },
      { direction: "in", protocol: "udp", port: "4789", sourceIps: ["0.0.0.0/0"] },
      { direction: "in", protocol: "esp", sourceIps: WORLD },
      { direction: "in", protocol: "tcp", port: "4789", sourceIps: WORLD },
    ])), [
      "rule 0 (tcp 2377) of res opens Swarm cluster management (2377/tcp) to the whole internet: Swarm talks over the private network only",
      "rule 1 (udp 7946) of res opens Swarm node gossip (7946/udp) to the whole internet: Swarm talks over the private network only",
      "rule 2 (udp 4789) of res opens Swarm overlay data path (VXLAN) (4789/udp) to the whole internet: Swarm talks over the private network only",
      "rule 3 (esp all ports) of res opens ESP to the whole internet: encrypted overlay traffic stays on the private network",
    ]);
  });

  void test("all TCP ports to the world names SSH and each Swarm TCP port", async () => {
    assert.deepEqual(await check(noWorldOpenSshOrSwarmPorts, firewall([{ direction: "in", protocol: "tcp", port: "any", sourceIps: WORLD }])), [
      "rule 0 (tcp any) of res opens SSH (port 22, 2222) to the whole internet: allow admin ranges only (sshAllowedCidrs)",
      "rule 0 (tcp any) of res opens Swarm cluster management (2377/tcp) to the whole internet: Swarm talks over the private network only",
      "rule 0 (tcp any) of res opens Swarm node gossip (7946/tcp) to the whole internet: Swarm talks over the private network only",
    ]);
  });

  void test("Swarm ports from a private range are not this policy's business", async () => {
    assert.deepEqual(await check(noWorldOpenSshOrSwarmPorts, firewall([{ direction: "in", protocol: "tcp", port: "2377", sourceIps: ["10.20.0.0/16"] }])), []);
  });
});

void describe("world-open-only-web-ports (advisory)", () => {
  void test("80 and 443 pass; 8080 and ranges are reported", async () => {
    assert.deepEqual(await check(worldOpenOnlyWebPorts, firewall([{ direction: "in", protocol: "tcp", port: "443", sourceIps: WORLD }])), []);
    assert.deepEqual(await check(worldOpenOnlyWebPorts, firewall([{ direction: "in", protocol: "tcp", port: "8080", sourceIps: WORLD }])),
      ["rule 0 of res opens tcp 8080 to the whole internet; only 80, 443 are meant to be"]);
    assert.equal((await check(worldOpenOnlyWebPorts, firewall([{ direction: "in", protocol: "udp", port: "80-443", sourceIps: WORLD }]))).length, 1);
    assert.equal(worldOpenOnlyWebPorts.enforcementLevel, "advisory");
  });
});

void describe("prod servers", () => {
  void test("delete protection is mandatory in prod stacks only", async () => {
    assert.deepEqual(await check(prodServersDeleteProtection, server("prod")), []);
    assert.deepEqual(await check(prodServersDeleteProtection, server("prod", { deleteProtection: false })),
      ["prod server res has no delete protection (deleteProtection: true; setting protect)"]);
    assert.deepEqual(await check(prodServersDeleteProtection, server("prod", { deleteProtection: undefined })).then((m) => m.length), 1);
    assert.deepEqual(await check(prodServersDeleteProtection, server("test", { deleteProtection: false })), []);
    assert.equal((await check(prodServersDeleteProtection, server("prod-eu", { deleteProtection: false }))).length, 1, "prod-* is prod by default");
    assert.equal((await check(prodServersDeleteProtection, { ...server("live", { deleteProtection: false }), config: { prodStacks: ["live"] } })).length, 1);
    // A stack not named prod whose resources are labelled as prod's.
    assert.equal((await check(prodServersDeleteProtection, server("scratch", { deleteProtection: false, labels: { stack: "prod" } }))).length, 1);
  });

  void test("rebuild protection and Pulumi protect are advised", async () => {
    assert.deepEqual(await check(prodServersFullyProtected, server("prod")), []);
    assert.deepEqual(await check(prodServersFullyProtected, server("prod", { rebuildProtection: false }, false)), [
      "prod server res has no rebuild protection",
      "prod server res is not protected in Pulumi (protect: true)",
    ]);
  });
});

void describe("Swarm services", () => {
  void test("a well-formed service passes every service policy, mandatory and advisory", async () => {
    for (const p of [swarmServiceResourceLimits, swarmServiceReservations, swarmServiceHealthcheck, swarmServicePinnedImage, swarmServiceImageDigest, swarmServiceNoSecretInEnv, statefulMembersPinned, statefulMembersStopFirst, swarmServiceRollsBack]) {
      assert.deepEqual(await check(p, service(goodService())), [], p.name);
      assert.deepEqual(await check(p, service(member("etcd-1", "prod-app-01"))), [], `${p.name} (member)`);
    }
  });

  void test("resource limits", async () => {
    assert.deepEqual(await check(swarmServiceResourceLimits, service(goodService({}, { resources: undefined }))),
      ["service prod_apisix has no memoryBytes and no nanoCpus limit (taskSpec.resources.limits)"]);
    assert.deepEqual(await check(swarmServiceResourceLimits, service(goodService({}, { resources: { limits: { memoryBytes: 1024, nanoCpus: 0 } } }))),
      ["service prod_apisix has no nanoCpus limit (taskSpec.resources.limits)"]);
  });

  void test("healthcheck", async () => {
    assert.deepEqual(await check(swarmServiceHealthcheck, service(goodService({}, {}, { healthcheck: undefined }))),
      ["service prod_apisix has no healthcheck (taskSpec.containerSpec.healthcheck.tests)"]);
    assert.deepEqual(await check(swarmServiceHealthcheck, service(goodService({}, {}, { healthcheck: { tests: ["NONE"] } }))),
      ["service prod_apisix disables its healthcheck (NONE)"]);
    assert.deepEqual(await check(swarmServiceHealthcheck, service(goodService({}, {}, { healthcheck: { tests: ["CMD-SHELL"] } }))),
      ["service prod_apisix has a healthcheck with no command"]);
  });

  void test("pinned image", async () => {
    for (const image of ["redis", "redis:latest", "bitnamisecure/redis:latest", "registry.example:5000/redis"]) {
      assert.deepEqual(await check(swarmServicePinnedImage, service(goodService({}, {}, { image }))),
        [`service prod_apisix image ${image} is not pinned: use a version tag such as :7.4.2 or a digest`], image);
    }
    for (const image of ["redis:7.4.2", "rabbitmq:4.0.5-management", "registry.example:5000/team/app:1.0", "redis@sha256:" + "c".repeat(64)]) {
      assert.deepEqual(await check(swarmServicePinnedImage, service(goodService({}, {}, { image }))), [], image);
    }
    assert.deepEqual(await check(swarmServicePinnedImage, service(goodService({}, {}, { image: "redis@sha256:abc" }))),
      ["service prod_apisix image redis@sha256:abc has a malformed digest"]);
    assert.deepEqual(await check(swarmServiceImageDigest, service(goodService({}, {}, { image: "redis:7.4.2" }))),
      ["service prod_apisix image redis:7.4.2 has no digest"]);
  });

  void test("no secret in the environment, and the message never carries the value", async () => {
    const messages = await check(swarmServiceNoSecretInEnv, service(goodService({}, {}, {
      env: { REDIS_PASSWORD: "hunter2hunter2", REDIS_PASSWORD_FILE: "/run/secrets/redis", BROKER_URL: "amqp://app:s3cr3t@rabbitmq-1:5672/", LOG_LEVEL: "info" },
    })));
    assert.deepEqual(messages, [
      "service prod_apisix environment REDIS_PASSWORD: its name says it holds a secret; pass it as a Docker secret and point REDIS_PASSWORD_FILE at /run/secrets/...",
      "service prod_apisix environment BROKER_URL: its value looks like a URL with a password; pass it as a Docker secret and point BROKER_URL_FILE at /run/secrets/...",
    ]);
    assert.ok(messages.every((m) => !m.includes("hunter2") && !m.includes("s3cr3t")));
  });

  void test("stateful members are one replica pinned to one node", async () => {
    assert.deepEqual(await check(statefulMembersPinned, service(member("rabbitmq-1", undefined))),
      ["stateful member prod_rabbitmq-1 is not pinned to exactly one node (placement constraint node.hostname == <node>)"]);
    assert.deepEqual(await check(statefulMembersPinned, service(member("rabbitmq-1", "prod-app-01", { mode: { replicated: { replicas: 3 } } }))),
      ["stateful member prod_rabbitmq-1 has 3 replicas; a member is exactly one"]);
    assert.deepEqual(await check(statefulMembersPinned, service(member("rabbitmq-1", "prod-app-01", { mode: { global: true } }))),
      ["stateful member prod_rabbitmq-1 runs in global mode; a member is one replicated task"]);
    const twoPins = member("rabbitmq-1", "prod-app-01");
    (((twoPins.taskSpec as Props).placement as Props).constraints as string[]).push("node.hostname == prod-app-02");
    assert.equal((await check(statefulMembersPinned, service(twoPins))).length, 1, "two different pins is no pin");
    assert.deepEqual(await check(statefulMembersPinned, service(goodService({}, { placement: { constraints: [] } }))), [], "stateless services are free to move");
    // The specs mark members with swarm-platform.member; that alone makes a service stateful.
    const byMemberLabel = goodService({ labels: [{ label: COMPONENT_LABEL, value: "redis" }, { label: MEMBER_LABEL, value: "redis-1" }] }, { placement: { constraints: [] } });
    assert.equal(isStatefulService(byMemberLabel), true);
    assert.equal(isStatefulService(goodService()), false);
    assert.deepEqual(await check(statefulMembersPinned, service(byMemberLabel)), [
      "stateful member prod_apisix is not pinned to exactly one node (placement constraint node.hostname == <node>)",
      "stateful member prod_apisix has 3 replicas; a member is exactly one",
    ]);
    assert.deepEqual(await check(statefulMembersStopFirst, service(member("vault-1", "prod-app-01", { updateConfig: { order: "start-first", failureAction: "rollback" } }))),
      ["stateful member prod_vault-1 updates start-first; use stop-first"]);
  });

  void test("rollback and convergence are advised", async () => {
    assert.deepEqual(await check(swarmServiceRollsBack, service(goodService({ convergeConfig: undefined, updateConfig: { failureAction: "pause" } }))), [
      "service prod_apisix does not roll back a failed update (updateConfig.failureAction: rollback)",
      "service prod_apisix has no convergeConfig: pulumi up returns before its tasks are healthy",
    ]);
  });

  void test("a global service must not carry convergeConfig, which the provider refuses beside mode.global; without it, it passes", async () => {
    const global = (over: Props): Props => goodService({ name: "prod_node-exporter", mode: { global: true }, ...over });
    assert.deepEqual(await check(swarmServiceRollsBack, service(global({}))), [
      "service prod_node-exporter sets mode.global (true) and convergeConfig: the Docker provider refuses the pair (\"conflicts with mode.0.global\"), so every preview fails; drop convergeConfig, or mode.global for a replicated service",
    ]);
    assert.deepEqual(await check(swarmServiceRollsBack, service(global({ convergeConfig: undefined }))), []);
    assert.deepEqual(await check(swarmServiceRollsBack, service(goodService({ mode: { replicated: { replicas: 2 }, global: false } }))), [
      "service prod_apisix sets mode.global (false) and convergeConfig: the Docker provider refuses the pair (\"conflicts with mode.0.global\"), so every preview fails; drop convergeConfig, or mode.global for a replicated service",
    ]);
  });
});

void describe("overlay networks", () => {
  const opts = (o: Props): Props => ({ options: { "com.docker.network.driver.mtu": "1350", ...o } });
  void test("prod overlays must be encrypted; the option's presence is what counts", async () => {
    assert.deepEqual(await check(prodOverlayNetworksEncrypted, network(opts({ encrypted: "true" }))), []);
    assert.deepEqual(await check(prodOverlayNetworksEncrypted, network(opts({ encrypted: "" }))), []);
    assert.deepEqual(await check(prodOverlayNetworksEncrypted, network(opts({}))),
      ['prod overlay network prod_backend is not encrypted (options: { encrypted: "true" })']);
    assert.deepEqual(await check(prodOverlayNetworksEncrypted, network(opts({}), "test")), []);
    assert.deepEqual(await check(prodOverlayNetworksEncrypted, network({ driver: "bridge" })), []);
    // Labelled as prod's, in a stack of another name.
    assert.equal((await check(prodOverlayNetworksEncrypted, network({ ...opts({}), labels: [{ label: SWARM_STACK_LABEL, value: "prod" }] }, "scratch"))).length, 1);
  });

  void test("MTU that fits the private network, and no misleading encrypted=false", async () => {
    assert.deepEqual(await check(overlayNetworkOptionsSane, network(opts({ encrypted: "true" }))), []);
    assert.deepEqual(await check(overlayNetworkOptionsSane, network({ options: { encrypted: "false" } }, "test")), [
      "overlay network test_backend sets no MTU (com.docker.network.driver.mtu); Docker's 1500 does not fit the private network",
      "overlay network test_backend has encrypted=false, which Docker reads as encrypted; drop the option instead",
    ]);
    assert.deepEqual(await check(overlayNetworkOptionsSane, network({ options: { "com.docker.network.driver.mtu": "1450" } })),
      ["overlay network prod_backend MTU 1450 does not fit the private network (at most 1400)"]);
  });
});

void describe("stack-wide rules", () => {
  void test("stateful members of one family on distinct nodes", async () => {
    const spread = [member("etcd-1", "prod-app-01"), member("etcd-2", "prod-app-02"), member("etcd-3", "prod-app-03"), member("vault-1", "prod-app-01")].map((p) => service(p));
    assert.deepEqual(await checkStack(statefulMembersOnDistinctNodes, spread), []);
    const doubled = [member("etcd-1", "prod-app-01"), member("etcd-2", "prod-app-01"), member("etcd-3", "prod-app-03")].map((p) => service(p));
    const found = await checkStack(statefulMembersOnDistinctNodes, doubled);
    assert.deepEqual(found.map((f) => f.message), [
      "etcd members prod_etcd-1, prod_etcd-2 are all pinned to prod-app-01: losing that node loses them together",
      "etcd members prod_etcd-1, prod_etcd-2 are all pinned to prod-app-01: losing that node loses them together",
    ]);
    assert.deepEqual(found.map((f) => f.urn), [urnOf("prod", TYPES.service, "r0"), urnOf("prod", TYPES.service, "r1")]);
  });

  void test("prod manager quorum is advised", async () => {
    const mgr = (i: number): Fake => server("prod", { name: `prod-mgr-0${i}`, labels: { stack: "prod", role: "manager" } });
    assert.deepEqual(await checkStack(prodManagerQuorum, [mgr(1), mgr(2), mgr(3), server("prod")]), []);
    assert.deepEqual((await checkStack(prodManagerQuorum, [mgr(1), mgr(2), server("prod")])).map((f) => f.message),
      ["prod stack has 2 Swarm manager server(s) (label role=manager); run 3, 5 or 7"]);
    assert.deepEqual(await checkStack(prodManagerQuorum, [server("test", { labels: { stack: "test", role: "manager" } })]), []);
  });
});

void describe("the pack's shape", () => {
  void test("unique names, the issue's mandatory rules mandatory, taste advisory", () => {
    const names = POLICIES.map((p) => p.name);
    assert.equal(new Set(names).size, names.length);
    const level = Object.fromEntries(POLICIES.map((p) => [p.name, p.enforcementLevel]));
    assert.deepEqual(Object.keys(level).filter((n) => level[n] === "mandatory").sort(), [
      "no-world-open-ssh-or-swarm-ports",
      "prod-overlay-networks-encrypted",
      "prod-servers-delete-protection",
      "stateful-members-on-distinct-nodes",
      "stateful-members-pinned",
      "swarm-service-healthcheck",
      "swarm-service-no-secret-in-env",
      "swarm-service-pinned-image",
      "swarm-service-resource-limits",
    ]);
    assert.ok(POLICIES.every((p) => p.enforcementLevel === "mandatory" || p.enforcementLevel === "advisory"));
  });
});

// ---------------------------------------------------------------------------
// The real program's resources.

function fromRun(run: ProgramRun, stack: string): Fake[] {
  return run.resources.map((r) => ({ type: r.type, name: r.name, stack, props: reveal(r.inputs) as Props, protect: r.options.protect ?? false }));
}

async function violations(resources: Fake[], level: "mandatory" | "advisory"): Promise<string[]> {
  const out: string[] = [];
  for (const p of POLICIES.filter((x) => x.enforcementLevel === level)) {
    if ("validateStack" in p) {
      out.push(...(await checkStack(p, resources)).map((f) => `${p.name}: ${f.message}`));
      continue;
    }
    for (const r of resources) out.push(...(await check(p, r)).map((m) => `${p.name}: ${m}`));
  }
  return out;
}

void describe("the program as declared today passes every mandatory policy", () => {
  for (const stack of ["test", "prod"] as const) {
    void test(stack, async () => {
      const run = await runProgram(stack, withOverrides(stack, {}), { preview: true });
      const resources = fromRun(run, stack);
      assert.ok(resources.some((r) => r.type === TYPES.firewall) && resources.some((r) => r.type === TYPES.server));
      assert.deepEqual(await violations(resources, "mandatory"), []);
      const advice = await violations(resources, "advisory");
      console.log(`${stack}: ${resources.length} resources, ${advice.length} advisory finding(s)${advice.length ? ":\n  " + advice.join("\n  ") : ""}`);
    });
  }

  void test("prod with protection off fails the pack", async () => {
    const run = await runProgram("prod", withOverrides("prod", { protect: false }), { preview: true });
    const found = await violations(fromRun(run, "prod"), "mandatory");
    assert.equal(found.filter((f) => f.startsWith("prod-servers-delete-protection:")).length, run.byType(TYPES.server).length);
  });
});

// ---------------------------------------------------------------------------
// The pack under Pulumi's own policy runner, as the CLI starts it.

/* eslint-disable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any --
   the runner's gRPC stubs are untyped CommonJS of @pulumi/pulumi, loaded from its own copy */
const pulumiDir = dirname(require.resolve("@pulumi/pulumi/package.json"));
const fromPulumi = (m: string): any => require(require.resolve(m, { paths: [pulumiDir] }));

void describe("the pack under Pulumi's policy runner (ts-node, gRPC on 127.0.0.1)", () => {
  let child: ChildProcess | undefined;
  let client: any;
  let stderr = "";
  const grpc = fromPulumi("@grpc/grpc-js");
  const analyzerGrpc = fromPulumi("@pulumi/pulumi/proto/analyzer_grpc_pb.js");
  const analyzerPb = fromPulumi("@pulumi/pulumi/proto/analyzer_pb.js");
  const structPb = fromPulumi("google-protobuf/google/protobuf/struct_pb.js");
  const emptyPb = fromPulumi("google-protobuf/google/protobuf/empty_pb.js");

  const rpc = <T>(method: string, req: unknown): Promise<T> =>
    new Promise((ok, fail) => client[method](req, (err: Error | null, res: T) => (err ? fail(err) : ok(res))));

  const request = (r: Fake): unknown => {
    const name = r.name ?? "res";
    const req = new analyzerPb.AnalyzeRequest();
    req.setType(r.type);
    req.setName(name);
    req.setUrn(urnOf(r.stack ?? "test", r.type, name));
    req.setProperties(structPb.Struct.fromJavaScript(JSON.parse(JSON.stringify(r.props))));
    const o = new analyzerPb.AnalyzerResourceOptions();
    o.setProtect(r.protect ?? false);
    req.setOptions(o);
    return req;
  };

  const analyze = async (r: Fake): Promise<{ policy: string; level: number; message: string }[]> => {
    const res: any = await rpc("analyze", request(r));
    return res.getDiagnosticsList().map((d: any) => ({ policy: d.getPolicyname(), level: d.getEnforcementlevel(), message: d.getMessage() }));
  };

  before(async () => {
    const started = Date.now();
    const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [ROOT] });
    child = spawn(process.execPath, [runner, "127.0.0.1:1", "."], { cwd: join(ROOT, "policy"), stdio: ["ignore", "pipe", "pipe"] });
    child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
    const port = await new Promise<number>((ok, fail) => {
      let out = "";
      const timer = setTimeout(() => fail(new Error(`policy pack did not print its port within 60s; stderr:\n${stderr}`)), 60_000);
      child!.stdout!.on("data", (b: Buffer) => {
        out += b.toString();
        const m = /^(\d+)\s*$/m.exec(out);
        if (m) {
          clearTimeout(timer);
          ok(Number(m[1]));
        }
      });
      child!.on("exit", (code) => {
        clearTimeout(timer);
        fail(new Error(`policy pack exited with ${code}; stderr:\n${stderr}`));
      });
    });
    console.log(`policy pack loaded by the runner in ${Date.now() - started} ms, serving on 127.0.0.1:${port}`);
    client = new analyzerGrpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });

  after(() => {
    client?.close();
    if (child && child.exitCode === null) child.kill("SIGKILL");
  });

  void test("GetAnalyzerInfo lists exactly the pack's policies with their levels", async () => {
    const info: any = await rpc("getAnalyzerInfo", new emptyPb.Empty());
    assert.equal(info.getName(), "swarm-platform");
    assert.equal(info.getVersion(), "0.1.0");
    const listed = info.getPoliciesList().map((p: any) => [p.getName(), p.getEnforcementlevel()]);
    const level = { advisory: analyzerPb.EnforcementLevel.ADVISORY, mandatory: analyzerPb.EnforcementLevel.MANDATORY } as Record<string, number>;
    assert.deepEqual(listed, POLICIES.map((p) => [p.name, level[p.enforcementLevel!]]));
  });

  void test("a world-open SSH rule is a mandatory violation; the real prod firewalls and servers are clean", async () => {
    const bad = await analyze({ ...firewall([{ direction: "in", protocol: "tcp", port: "22", sourceIps: ["0.0.0.0/0"] }]), stack: "prod" });
    assert.deepEqual(bad.filter((d) => d.level === analyzerPb.EnforcementLevel.MANDATORY).map((d) => [d.policy, d.message]), [
      // The runtime puts the policy's description above the violation.
      ["no-world-open-ssh-or-swarm-ports", `${noWorldOpenSshOrSwarmPorts.description}\nrule 0 (tcp 22) of res opens SSH (port 22) to the whole internet: allow admin ranges only (sshAllowedCidrs)`],
    ]);
    const run = await runProgram("prod", withOverrides("prod", {}), { preview: true });
    for (const r of fromRun(run, "prod").filter((x) => x.type === TYPES.firewall || x.type === TYPES.server)) {
      const found = await analyze(r);
      assert.deepEqual(found.filter((d) => d.level === analyzerPb.EnforcementLevel.MANDATORY), [], r.name);
    }
  });

  void test("an unprotected prod server and an unencrypted prod overlay are mandatory violations", async () => {
    const unprotected = await analyze({ ...server("prod", { deleteProtection: false }), name: "prod-app-01" });
    assert.deepEqual(unprotected.filter((d) => d.level === analyzerPb.EnforcementLevel.MANDATORY).map((d) => d.policy), ["prod-servers-delete-protection"]);
    const plain = await analyze(network({ options: { "com.docker.network.driver.mtu": "1350" } }));
    assert.deepEqual(plain.map((d) => d.policy), ["prod-overlay-networks-encrypted"]);
    const leaky = await analyze(service(goodService({}, {}, { image: "redis:latest", env: { REDIS_PASSWORD: "hunter2hunter2" } })));
    assert.deepEqual(leaky.filter((d) => d.level === analyzerPb.EnforcementLevel.MANDATORY).map((d) => d.policy).sort(),
      ["swarm-service-no-secret-in-env", "swarm-service-pinned-image"]);
    assert.ok(leaky.every((d) => !d.message.includes("hunter2")));
  });
});
