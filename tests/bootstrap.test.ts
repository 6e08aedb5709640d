import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runProgram, isSecretInput, reveal, type ProgramRun, type RecordedResource } from "../tools/mock-runtime";
import { bootstrapSteps, dialErrorLimitFor, labelsText, readScript, scriptInput, shellQuote, stepChanges, REMOTE_SHELL } from "../core/bootstrap";
import { buildTopology } from "../core/topology";
import { loadStack, stackFileConfig, TEST_PRIVATE_KEY } from "./support/config";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { parse } from "yaml";
import { bootstrapState, TOKEN } from "./support/bootstrap-state";

const state = bootstrapState;

describe("bootstrap step plan (prod)", () => {
  const cfg = loadStack("prod");
  const steps = bootstrapSteps(cfg, buildTopology(cfg));
  const byId = new Map(steps.map((s) => [s.id, s]));

  test("order: wait, init on the first manager, tokens, joins, then node config", () => {
    assert.deepEqual(steps.map((s) => s.id), [
      "wait-prod-mgr-01", "wait-prod-mgr-02", "wait-prod-mgr-03", "wait-prod-app-01", "wait-prod-app-02", "wait-prod-app-03",
      "init", "token-manager", "token-worker",
      "config-prod-mgr-01",
      "member-prod-mgr-02", "join-prod-mgr-02", "config-prod-mgr-02",
      "member-prod-mgr-03", "join-prod-mgr-03", "config-prod-mgr-03",
      "member-prod-app-01", "join-prod-app-01", "config-prod-app-01",
      "member-prod-app-02", "join-prod-app-02", "config-prod-app-02",
      "member-prod-app-03", "join-prod-app-03", "config-prod-app-03",
    ]);
    // Every dependency precedes its dependent: no join before init, no label before join.
    const position = new Map(steps.map((s, i) => [s.id, i]));
    for (const s of steps) for (const a of s.after) assert.ok(position.get(a)! < position.get(s.id)!, `${a} before ${s.id}`);
  });

  test("init advertises the private IP and carves overlays from swarmAddrPool", () => {
    assert.deepEqual(byId.get("init")!.env, { NODE_NAME: "prod-mgr-01", PRIVATE_IP: "10.20.1.10", DEFAULT_ADDR_POOL: "10.128.0.0/16" });
    assert.equal(byId.get("init")!.runOn, "prod-mgr-01");
  });

  test("joins use the private network and the right token; leaving is their delete", () => {
    const mgr = byId.get("join-prod-mgr-02")!;
    assert.deepEqual(mgr.env, { NODE_NAME: "prod-mgr-02", PRIVATE_IP: "10.20.1.11", ROLE: "manager", MANAGER_ADDR: "10.20.1.10", JOIN_TIMEOUT_S: "300" });
    assert.deepEqual(mgr.secretEnv, { JOIN_TOKEN: "managerToken" });
    assert.deepEqual(mgr.after, ["wait-prod-mgr-02", "member-prod-mgr-02", "token-manager"]);
    assert.deepEqual(byId.get("join-prod-app-03")!.secretEnv, { JOIN_TOKEN: "workerToken" });
    assert.deepEqual(mgr.onDelete, { script: "swarm-leave", env: { NODE_NAME: "prod-mgr-02", LEAVE_FORCE: "0" }, serverIdEnv: {} });
  });

  test("triggers hold identity only: each step's own server, the leader's for init and tokens", () => {
    assert.deepEqual(Object.fromEntries(steps.filter((s) => s.id.endsWith("prod-app-02") || s.node === "prod-mgr-01").map((s) => [s.id, s.identity])), {
      "wait-prod-mgr-01": ["prod-mgr-01"],
      init: ["prod-mgr-01"],
      "token-manager": ["prod-mgr-01"],
      "token-worker": ["prod-mgr-01"],
      "config-prod-mgr-01": ["prod-mgr-01"],
      "wait-prod-app-02": ["prod-app-02"],
      "member-prod-app-02": ["prod-app-02"],
      "join-prod-app-02": ["prod-app-02"],
      "config-prod-app-02": ["prod-app-02"],
    });
    assert.deepEqual(steps.filter((s) => s.firstContact).map((s) => s.id), steps.filter((s) => s.kind === "wait").map((s) => s.id));
  });

  test("node config: role, labels with replace semantics, managers drained, drain-on-delete for pool shrink, all by server id", () => {
    const app = byId.get("config-prod-app-02")!;
    assert.equal(app.runOn, "prod-mgr-01");
    assert.deepEqual(app.env, { NODE_NAME: "prod-app-02", NODE_ROLE: "worker", NODE_LABELS: "edge=true\nlocation=nbg1\npool=app\ntype=service", NODE_AVAILABILITY: "active", NODE_READY_TIMEOUT_S: "300" });
    assert.deepEqual(app.serverIdEnv, { SERVER_ID: "prod-app-02" });
    assert.deepEqual(app.onDelete, { script: "node-remove", env: { NODE_NAME: "prod-app-02", REMOVE_STEP: "prepare", DRAIN_TIMEOUT_S: "300" }, serverIdEnv: { SERVER_ID: "prod-app-02" } });
    assert.equal(byId.get("config-prod-mgr-03")!.env.NODE_AVAILABILITY, "drain");
    assert.equal(byId.get("config-prod-mgr-03")!.env.NODE_ROLE, "manager");
    assert.equal(byId.get("config-prod-mgr-01")!.onDelete, undefined);
    assert.deepEqual(byId.get("member-prod-app-02")!.onDelete, { script: "node-remove", env: { NODE_NAME: "prod-app-02", REMOVE_STEP: "remove", DOWN_TIMEOUT_S: "120" }, serverIdEnv: { SERVER_ID: "prod-app-02" } });
  });

  test("the label reserved for the server id cannot be set by a pool", () => {
    const c = loadStack("prod", { nodePools: ["mgr role=manager count=3 type=cx33 locations=fsn1,nbg1,hel1", "app role=worker count=3 type=cx43 locations=fsn1,nbg1,hel1 labels=type:service,swarm-platform.server-id:1 ipOffset=30"] });
    assert.throws(() => bootstrapSteps(c, buildTopology(c)), /^Error: nodePools: the pool of prod-app-01 sets the label swarm-platform\.server-id, which the bootstrap reserves for the node's server id; remove it from labels=$/);
  });

  test("SSH dial budget: the provider's back-off (100 ms ×1.5, at most 5 s) reaches 900 s after 188 retries", () => {
    assert.equal(dialErrorLimitFor(11), 10);
    assert.equal(dialErrorLimitFor(361), 80);
    assert.equal(dialErrorLimitFor(900), 188);
    assert.equal(dialErrorLimitFor(120), 32);
  });

  test("a removed label disappears from the step's input, so the step re-runs in place", () => {
    const pools = (labels: string) => ["mgr role=manager count=3 type=cx33 locations=fsn1,nbg1,hel1", `app role=worker count=3 type=cx43 locations=fsn1,nbg1,hel1 labels=${labels} ipOffset=30`];
    const stepOf = (labels: string) => {
      const c = loadStack("prod", { nodePools: pools(labels) });
      return bootstrapSteps(c, buildTopology(c)).find((s) => s.id === "config-prod-app-02")!;
    };
    const withZone = stepOf("type:service,zone:b");
    const without = stepOf("type:service");
    // prod-app-02 is an edge candidate: it carries edge=true.
    assert.equal(withZone.env.NODE_LABELS, "edge=true\nlocation=nbg1\npool=app\ntype=service\nzone=b");
    assert.equal(without.env.NODE_LABELS, "edge=true\nlocation=nbg1\npool=app\ntype=service");
    assert.deepEqual(stepChanges([withZone], [without]), [{ id: "config-prod-app-02", action: "update", runs: ["node-config"] }]);
  });

  test("script input: quoted exports, secrets as unexported variables, then the script; the shell reads it back exactly", () => {
    const text = scriptInput("swarm-token", { NODE_NAME: "it's", ROLE: "worker" }, { JOIN_TOKEN: TOKEN });
    assert.ok(text.startsWith(`export NODE_NAME=${shellQuote("it's")}\nexport ROLE='worker'\nJOIN_TOKEN='${TOKEN}'\n#!/usr/bin/env bash`));
    const r = spawnSync("bash", ["-c", `${text.split("\n").slice(0, 3).join("\n")}\nprintf '%s|%s|%s|' "$NODE_NAME" "$ROLE" "$JOIN_TOKEN"; env`], { encoding: "utf8" });
    assert.ok(r.stdout.startsWith(`it's|worker|${TOKEN}|`), r.stdout);
    assert.ok(!r.stdout.slice(r.stdout.indexOf("|", r.stdout.indexOf(TOKEN))).includes(TOKEN), "a child process (env) does not inherit the token");
    assert.equal(labelsText({ b: "2", a: "1" }), "a=1\nb=2");
  });
});

describe("bootstrap resources (prod, mocks)", () => {
  let run: ProgramRun;
  let cmds: Map<string, RecordedResource>;
  const hostKeys = new Map<string, string>();
  const publicIps = new Map<string, string>();
  before(async () => {
    run = await runProgram("prod", stackFileConfig("prod"), { state });
    // The bootstrap's commands (the edge failover's token steps are tests/edge-failover.test.ts's).
    cmds = new Map(run.byType("command:remote:Command").filter((c) => c.name.startsWith("swarm-")).map((c) => [c.name.replace(/^swarm-/, ""), c]));
    for (const server of run.byType("hcloud:index/server:Server")) {
      const node = server.name.replace(/^cluster-/, "");
      hostKeys.set(node, (parse(String(reveal(server.inputs.userData))) as { ssh_keys: { ed25519_public: string } }).ssh_keys.ed25519_public);
      publicIps.set(node, String(state({ type: server.type, name: server.name })!.ipv4Address));
    }
  });

  test("one remote command per step, connected to the right node over the configured port", () => {
    assert.equal(cmds.size, 25);
    const init = cmds.get("init")!;
    assert.ok(isSecretInput(init.inputs.connection), "the connection carries the private key: secret");
    const { hostKey, ...connection } = reveal(init.inputs.connection) as { hostKey: string };
    assert.deepEqual(connection, {
      host: "198.51.100.1",
      port: 2222,
      user: "deploy",
      privateKey: TEST_PRIVATE_KEY,
      perDialTimeout: 15,
      dialErrorLimit: 32,
    });
    assert.equal(hostKey, hostKeys.get("prod-mgr-01"), "the key cloud-init installs on the leader");
    assert.equal((reveal(cmds.get("wait-prod-app-01")!.inputs.connection) as { dialErrorLimit: number }).dialErrorLimit, 188, "first contact outlasts the 900 s cloud-init wait");
    assert.equal(init.inputs.addPreviousOutputInEnv, false);
    assert.equal(init.inputs.create, REMOTE_SHELL);
    assert.equal(init.inputs.update, REMOTE_SHELL);
    // The variables as sorted exports, then the script exactly as committed.
    assert.equal(init.inputs.stdin, [
      "export DEFAULT_ADDR_POOL='10.128.0.0/16'",
      "export NODE_NAME='prod-mgr-01'",
      "export PRIVATE_IP='10.20.1.10'",
      readFileSync(join(__dirname, "..", "scripts", "bootstrap", "swarm-init.sh"), "utf8"),
    ].join("\n"));
    assert.equal((reveal(cmds.get("join-prod-app-01")!.inputs.connection) as { host: string }).host, "198.51.100.21");
    assert.equal((reveal(cmds.get("config-prod-app-01")!.inputs.connection) as { host: string }).host, "198.51.100.1");
  });

  test("dependency order is declared: no join before init and token, no label before join, provider after labels", () => {
    const deps = (id: string) => cmds.get(id)!.options.dependsOn;
    assert.ok(deps("init").includes("swarm-wait-prod-mgr-01"));
    assert.ok(deps("token-worker").includes("swarm-init"));
    assert.deepEqual(deps("join-prod-app-01").filter((d) => d.startsWith("swarm-")), ["swarm-wait-prod-app-01", "swarm-member-prod-app-01", "swarm-token-worker"]);
    assert.ok(deps("config-prod-app-01").includes("swarm-join-prod-app-01"));
    assert.ok(deps("join-prod-app-01").includes("cluster-prod-app-01-private"), "waits for the private network attachment");
    const provider = run.one("pulumi:providers:docker", "swarm-docker");
    assert.deepEqual([...provider.options.dependsOn].sort(), [...cmds.keys()].filter((k) => k.startsWith("config-")).map((k) => `swarm-${k}`).sort());
    assert.equal(provider.inputs.host, "ssh://deploy@198.51.100.1:2222");
  });

  test("join tokens are secrets: captured quietly, encrypted in state, passed only on stdin", () => {
    const token = cmds.get("token-worker")!;
    assert.equal(token.inputs.logging, "stderr");
    assert.deepEqual([...token.options.additionalSecretOutputs!].sort(), ["connection", "stdout"]);
    const join = cmds.get("join-prod-app-02")!;
    assert.ok(isSecretInput(join.inputs.stdin), "stdin holds the token: secret");
    assert.ok(String(reveal(join.inputs.stdin)).includes(`\nJOIN_TOKEN='${TOKEN}'\n`));
    assert.ok(!String(reveal(join.inputs.stdin)).includes("export JOIN_TOKEN"), "never exported: no child process inherits it");
    assert.ok(!isSecretInput(cmds.get("config-prod-app-02")!.inputs.stdin), "steps without secrets stay readable in the diff");
    assert.ok(!String(join.inputs.create).includes(TOKEN));
    assert.equal(join.inputs.logging, "stdoutAndStderr");
    assert.ok(String(join.inputs.delete).includes(readScript("swarm-leave").split("\n")[0]));
  });

  test("the node config step carries role, labels and its server id; its triggers are only that id", () => {
    const cfg = cmds.get("config-prod-app-03")!;
    const serverId = run.one("hcloud:index/server:Server", "cluster-prod-app-03").id;
    assert.match(String(cfg.inputs.stdin), /^export NODE_LABELS='location=hel1\npool=app\ntype=service'$/m);
    assert.match(String(cfg.inputs.stdin), /^export NODE_ROLE='worker'$/m);
    assert.match(String(cfg.inputs.stdin), new RegExp(`^export SERVER_ID='${serverId}'$`, "m"));
    assert.deepEqual(cfg.inputs.triggers, [serverId]);
    assert.match(String(cfg.inputs.delete), new RegExp(`^export SERVER_ID='${serverId}'$`, "m"));
    assert.equal(cfg.inputs.update, REMOTE_SHELL);
  });

  test("every connection pins the host key cloud-init installs, and ssh-keygen derives it from the installed private key", (t) => {
    const dir = mkdtempSync(join(tmpdir(), "hostkey-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    for (const [name, c] of cmds) {
      const runOn = (reveal(c.inputs.connection) as { host: string; hostKey: string });
      const node = [...hostKeys.keys()].find((n) => publicIps.get(n) === runOn.host)!;
      assert.equal(runOn.hostKey, hostKeys.get(node), `${name} pins the key of ${node}`);
    }
    for (const server of run.byType("hcloud:index/server:Server")) {
      assert.ok(isSecretInput(server.inputs.userData), `${server.name}: userData holds the host private key: secret`);
      const keys = (parse(String(reveal(server.inputs.userData))) as { ssh_keys: { ed25519_private: string; ed25519_public: string } }).ssh_keys;
      const file = join(dir, server.name);
      writeFileSync(file, keys.ed25519_private, { mode: 0o600 });
      const derived = spawnSync("ssh-keygen", ["-y", "-f", file], { encoding: "utf8" });
      assert.equal(derived.status, 0, derived.stderr);
      assert.equal(derived.stdout.trim().split(" ").slice(0, 2).join(" "), keys.ed25519_public);
    }
    assert.equal(new Set(hostKeys.values()).size, hostKeys.size, "one key per server");
  });
});
