/**
 * The bootstrap scripts against a real four-node Swarm (one dockerd per network namespace),
 * run the way the Pulumi program runs them: environment variables in, exit code and
 * messages out. Needs root and dockerd; skips visibly without them, fails under CI=true.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, test, type TestContext } from "node:test";
import { startLocalSwarm, type LocalSwarm, type LocalSwarmNode, type RunResult } from "../e2e/support/local-swarm";
import { scriptInput } from "../core/bootstrap";

const SCRIPTS = path.resolve(__dirname, "../scripts/bootstrap");
const DEFAULT_ADDR_POOL = "10.214.0.0/16";

type Availability = "active" | "drain" | "pause";

interface NodeConfig {
  name: string;
  role: "manager" | "worker";
  labels: Record<string, string>;
  availability: Availability;
}

const TOPOLOGY: NodeConfig[] = [
  { name: "t-mgr-01", role: "manager", labels: { role: "manager" }, availability: "drain" },
  { name: "t-mgr-02", role: "manager", labels: { role: "manager" }, availability: "drain" },
  { name: "t-mgr-03", role: "manager", labels: { role: "manager" }, availability: "drain" },
  { name: "t-app-01", role: "worker", labels: { type: "service", zone: "a" }, availability: "active" },
];
const FIRST_MANAGER = "t-mgr-01";
const WORKER = "t-app-01";
const SERVER_ID_LABEL = "swarm-platform.server-id";

/** The stand-in for each node's Hetzner server id. */
function serverId(name: string): string {
  return `srv-${name}`;
}

/** Every process whose argv or environment holds one of the secrets, and whether a curl to /swarm/join was seen. */
interface ProcScan {
  leaks: string[];
  sawApiJoin: boolean;
}

function scanProcesses(secrets: readonly string[], scan: ProcScan): void {
  for (const pid of fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry))) {
    for (const file of ["cmdline", "environ"]) {
      let text: string;
      try {
        text = fs.readFileSync(`/proc/${pid}/${file}`, "latin1");
      } catch {
        continue;
      }
      if (file === "cmdline" && text.startsWith("curl\0") && text.includes("/swarm/join")) scan.sawApiJoin = true;
      if (secrets.some((secret) => text.includes(secret))) scan.leaks.push(`${pid} ${file}: ${text.replace(/\0/g, " ").slice(0, 120)}`);
    }
  }
}

function missingPrerequisite(): string | null {
  if (process.platform !== "linux") return "needs Linux network namespaces";
  if (process.getuid?.() !== 0) return "needs root (network namespaces and dockerd)";
  const dirs = `${process.env.PATH ?? ""}:/usr/sbin:/usr/bin:/sbin:/bin`.split(":");
  for (const cmd of ["dockerd", "docker", "ip", "nsenter", "unshare"]) {
    if (!dirs.some((dir) => dir !== "" && fs.existsSync(path.join(dir, cmd)))) return `needs '${cmd}' on PATH`;
  }
  return null;
}

/** Labels as the Pulumi program passes them: newline-separated here, comma-separated for workers. */
function labelEnv(config: NodeConfig): string {
  const entries = Object.entries(config.labels).map(([key, value]) => `${key}=${value}`);
  return config.role === "worker" ? entries.join(",") : entries.join("\n");
}

function describeRun(result: RunResult): string {
  return `exit ${result.code ?? result.signal}\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;
}

/** The parts of `docker node inspect` the test reads. */
interface InspectedNode {
  Description: { Hostname: string };
  Spec: { Role: string; Labels: Record<string, string>; Availability: string };
  Status: { State: string; Addr: string };
  ManagerStatus?: { Addr: string };
  Version: { Index: number };
}

let swarm: LocalSwarm | undefined;

after(async () => {
  await swarm?.stop();
});

void test("bootstrap scripts build, keep, change and shrink a real Swarm", { timeout: 420_000 }, async (t: TestContext) => {
  const missing = missingPrerequisite();
  if (missing) {
    if (process.env.CI === "true") assert.fail(`CI=true but the real-Swarm test cannot run: ${missing}`);
    t.skip(missing);
    return;
  }

  swarm = await startLocalSwarm({ nodes: TOPOLOGY.map(({ name }) => ({ name })) });
  const local = swarm;
  const node = (name: string): LocalSwarmNode => local.node(name);
  const config = (name: string): NodeConfig => {
    const found = TOPOLOGY.find((entry) => entry.name === name);
    assert.ok(found, `no config for ${name}`);
    return found;
  };
  const tokens: string[] = [];

  /** Runs a bootstrap script, asserts it succeeded and printed no join token. */
  const script = async (
    where: string,
    name: string,
    env: Record<string, string>,
    expectedCode = 0,
  ): Promise<RunResult> => {
    // Through stdin, as the Pulumi program runs it over SSH ('bash -s').
    const result = await local.runScript(node(where), path.join(SCRIPTS, name), env, { timeoutMs: 120_000, stdin: true });
    assert.equal(result.code, expectedCode, `${name} on ${where}: ${describeRun(result)}`);
    if (name !== "swarm-token.sh") {
      for (const token of tokens) {
        assert.ok(!result.stdout.includes(token) && !result.stderr.includes(token), `${name} on ${where} printed a join token`);
      }
    }
    return result;
  };
  const docker = async (args: string[], where = FIRST_MANAGER): Promise<string> => {
    const result = await local.docker(node(where), args, { check: true });
    return result.stdout;
  };
  const nodeStates = async (): Promise<Map<string, InspectedNode>> => {
    const ids = (await docker(["node", "ls", "-q"])).trim().split("\n");
    const inspected = JSON.parse(await docker(["node", "inspect", ...ids])) as InspectedNode[];
    return new Map(inspected.map((entry) => [entry.Description.Hostname, entry]));
  };

  const procScan: ProcScan = { leaks: [], sawApiJoin: false };
  /**
   * swarm-join.sh exactly as the program sends it: the token a plain shell variable in the script
   * text on `bash -s`'s stdin. Meanwhile every process's argv and environment is searched for it.
   */
  const join = async (name: string, role: string, token: string, expectedCode = 0): Promise<RunResult> => {
    const env = { NODE_NAME: name, PRIVATE_IP: node(name).ip, ROLE: role, MANAGER_ADDR: node(FIRST_MANAGER).ip, JOIN_TIMEOUT_S: "60" };
    const scanner = setInterval(() => scanProcesses([token, ...tokens], procScan), 5);
    try {
      const result = await local.exec(name, ["bash", "-s"], { SKIP_CLOUD_INIT_WAIT: "1" }, {
        input: scriptInput("swarm-join", env, { JOIN_TOKEN: token }),
        timeoutMs: 120_000,
      });
      assert.equal(result.code, expectedCode, `swarm-join.sh on ${name}: ${describeRun(result)}`);
      for (const known of [token, ...tokens]) {
        assert.ok(!result.stdout.includes(known) && !result.stderr.includes(known), `swarm-join.sh on ${name} printed a join token`);
      }
      return result;
    } finally {
      clearInterval(scanner);
    }
  };
  const configure = (entry: NodeConfig, env: Record<string, string> = {}): Promise<RunResult> =>
    script(FIRST_MANAGER, "node-config.sh", {
      NODE_NAME: entry.name,
      SERVER_ID: serverId(entry.name),
      NODE_ROLE: entry.role,
      NODE_LABELS: labelEnv(entry),
      NODE_AVAILABILITY: entry.availability,
      NODE_READY_TIMEOUT_S: "60",
      ...env,
    });
  /**
   * Now, as `docker events --since` reads it: "%d.%09d", seconds and nanoseconds (docker's
   * api/types/time/timestamp.go, ParseTimestamps, v28.3.0). Whole seconds would let the previous
   * step's last events (same second) into this step's window.
   */
  const eventStamp = (): string => {
    const ms = Date.now();
    return `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, "0")}000000`;
  };
  /** Node events since a moment, as `docker events` reports them (availability and role changes carry .old/.new). */
  const nodeEvents = async (since: string): Promise<{ Action: string; Actor: { Attributes: Record<string, string> } }[]> => {
    const out = await docker(["events", "--since", since, "--until", String(Math.ceil(Date.now() / 1000) + 1), "--filter", "type=node", "--format", "{{json .}}"]);
    return out.trim().split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as { Action: string; Actor: { Attributes: Record<string, string> } });
  };

  /** The whole bootstrap, in the order the Pulumi program runs it. */
  const bootstrap = async (): Promise<Map<string, RunResult[]>> => {
    const outputs = new Map<string, RunResult[]>(TOPOLOGY.map(({ name }) => [name, []]));
    const record = (name: string, result: RunResult): void => {
      outputs.get(name)?.push(result);
    };
    await Promise.all(
      TOPOLOGY.map(async ({ name }) => record(name, await script(name, "wait-ready.sh", { NODE_NAME: name, READY_TIMEOUT_S: "60" }))),
    );
    record(
      FIRST_MANAGER,
      await script(FIRST_MANAGER, "swarm-init.sh", {
        NODE_NAME: FIRST_MANAGER,
        PRIVATE_IP: node(FIRST_MANAGER).ip,
        DEFAULT_ADDR_POOL,
      }),
    );
    const joinTokens: Record<string, string> = {};
    for (const role of ["manager", "worker"]) {
      const result = await script(FIRST_MANAGER, "swarm-token.sh", { NODE_NAME: FIRST_MANAGER, ROLE: role });
      assert.match(result.stdout, /^SWMTKN-[0-9A-Za-z-]+\n$/, `swarm-token.sh ROLE=${role} prints only the token`);
      assert.equal(result.stderr, "", `swarm-token.sh ROLE=${role} prints nothing else`);
      joinTokens[role] = result.stdout.trim();
      if (!tokens.includes(joinTokens[role])) tokens.push(joinTokens[role]);
    }
    for (const { name, role } of TOPOLOGY.filter((entry) => entry.name !== FIRST_MANAGER)) {
      record(name, await join(name, role, joinTokens[role] ?? ""));
    }
    for (const entry of TOPOLOGY) {
      record(entry.name, await configure(entry));
    }
    return outputs;
  };

  let failed = false;
  const step = async (name: string, body: () => Promise<void>): Promise<void> => {
    await t.test(name, async (st) => {
      if (failed) {
        st.skip("an earlier step failed");
        return;
      }
      try {
        await body();
      } catch (error) {
        failed = true;
        throw error;
      }
    });
  };

  let firstRunS = 0;
  let secondRunS = 0;
  let firstTokens: string[] = [];

  await step("a+b. first run: wait-ready, swarm-init, swarm-token, swarm-join, node-config", async () => {
    const started = process.hrtime.bigint();
    await bootstrap();
    firstRunS = Number(process.hrtime.bigint() - started) / 1e9;
    firstTokens = [...tokens];
  });

  let converged = new Map<string, InspectedNode>();

  await step("c. one swarm of 3 managers and 1 worker, labelled and addressed as configured", async () => {
    const listed = (await docker(["node", "ls", "--format", "{{json .}}"]))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { ID: string; Hostname: string; Status: string; ManagerStatus: string });
    assert.deepEqual(listed.map((entry) => entry.Hostname).sort(), TOPOLOGY.map(({ name }) => name).sort());
    assert.deepEqual(listed.map((entry) => entry.Status), ["Ready", "Ready", "Ready", "Ready"]);
    const managers = listed.filter((entry) => entry.ManagerStatus !== "").map((entry) => entry.Hostname).sort();
    assert.deepEqual(managers, ["t-mgr-01", "t-mgr-02", "t-mgr-03"]);
    assert.equal(listed.filter((entry) => entry.ManagerStatus === "Leader").length, 1, "exactly one leader");

    // Every daemon is a member of this one swarm.
    const ids = new Set(listed.map((entry) => entry.ID));
    for (const { name } of TOPOLOGY) {
      const nodeId = (await docker(["info", "--format", "{{.Swarm.NodeID}}"], name)).trim();
      assert.ok(ids.has(nodeId), `${name} (node id ${nodeId}) is in the swarm of ${FIRST_MANAGER}`);
    }

    converged = await nodeStates();
    for (const entry of TOPOLOGY) {
      const state = converged.get(entry.name);
      assert.ok(state, `${entry.name} is inspected`);
      assert.equal(state.Spec.Role, entry.role, `${entry.name} role`);
      assert.deepEqual(state.Spec.Labels, { ...entry.labels, [SERVER_ID_LABEL]: serverId(entry.name) }, `${entry.name} labels`);
      assert.equal(state.Spec.Availability, entry.availability, `${entry.name} availability`);
      assert.equal(state.Status.State, "ready", `${entry.name} state`);
      assert.equal(state.Status.Addr, node(entry.name).ip, `${entry.name} address`);
      if (entry.role === "manager") {
        assert.equal(state.ManagerStatus?.Addr, `${node(entry.name).ip}:2377`, `${entry.name} manager address`);
      }
    }
    // Overlay networks draw from the configured pool, clear of the nodes' own subnet.
    const ingress = JSON.parse(await docker(["network", "inspect", "ingress"])) as {
      IPAM: { Config: { Subnet: string }[] };
    }[];
    assert.match(ingress[0]?.IPAM.Config[0]?.Subnet ?? "", /^10\.214\./, "ingress subnet from DEFAULT_ADDR_POOL");
  });

  await step("c2. the join token was in no process's argv or environment during the joins (Engine API join)", () => {
    assert.ok(procScan.sawApiJoin, "the scan saw curl POST /swarm/join, so it ran while the joins did");
    assert.deepEqual(procScan.leaks, []);
    return Promise.resolve();
  });

  await step("d. second run changes nothing and says so", async () => {
    const started = process.hrtime.bigint();
    const outputs = await bootstrap();
    secondRunS = Number(process.hrtime.bigint() - started) / 1e9;

    assert.deepEqual(tokens, firstTokens, "join tokens are not rotated");
    const messages = (name: string): string =>
      (outputs.get(name) ?? []).map((result) => result.stdout + result.stderr).join("");
    for (const { name } of TOPOLOGY) {
      assert.match(messages(name), /already ready/, `${name}: wait-ready.sh`);
      assert.match(messages(name), /labels unchanged/, `${name}: node-config.sh labels`);
      assert.match(messages(name), /availability unchanged/, `${name}: node-config.sh availability`);
      assert.match(messages(name), /role unchanged/, `${name}: node-config.sh role`);
      assert.match(messages(name), /nothing to update/, `${name}: node-config.sh`);
    }
    assert.match(messages(FIRST_MANAGER), /already a manager of swarm/, "swarm-init.sh");
    for (const { name } of TOPOLOGY.filter((entry) => entry.name !== FIRST_MANAGER)) {
      assert.match(messages(name), /already in the swarm as (manager|worker)/, `${name}: swarm-join.sh`);
    }

    const after = await nodeStates();
    for (const { name } of TOPOLOGY) {
      assert.deepEqual(
        { Spec: after.get(name)?.Spec, Index: after.get(name)?.Version.Index },
        { Spec: converged.get(name)?.Spec, Index: converged.get(name)?.Version.Index },
        `${name}: spec and version index unchanged`,
      );
    }
  });

  await step("e. a label dropped from the configuration is removed from the node", async () => {
    const worker = config(WORKER);
    const trimmed: NodeConfig = { ...worker, labels: { type: "service" } };
    const since = eventStamp();
    const changed = await configure(trimmed);
    assert.match(changed.stderr, /labels to change: -zone\n/);
    assert.deepEqual((await nodeStates()).get(WORKER)?.Spec.Labels, { type: "service", [SERVER_ID_LABEL]: serverId(WORKER) });
    const again = await configure(trimmed);
    assert.match(again.stderr, /labels unchanged \(swarm-platform\.server-id=srv-t-app-01,type=service\)/);

    const cleared = await configure(trimmed, { NODE_LABELS: "" });
    assert.match(cleared.stderr, /labels to change: -type\n/);
    assert.deepEqual((await nodeStates()).get(WORKER)?.Spec.Labels, { [SERVER_ID_LABEL]: serverId(WORKER) });
    const stillNone = await configure(trimmed, { NODE_LABELS: "" });
    assert.match(stillNone.stderr, /labels unchanged \(swarm-platform\.server-id=srv-t-app-01\)/);

    // The label changes never drained or demoted the node, not even for a moment.
    const events = await nodeEvents(since);
    assert.ok(events.length >= 2, `docker events saw the label updates (${events.length})`);
    assert.deepEqual(events.filter((e) => e.Actor.Attributes["availability.new"] !== undefined || e.Actor.Attributes["role.new"] !== undefined), []);
    const state = (await nodeStates()).get(WORKER);
    assert.deepEqual([state?.Spec.Availability, state?.Spec.Role, state?.Status.State], ["active", "worker", "ready"]);
    await configure(config(WORKER));
  });

  await step("e2. an availability change is applied in place, and back", async () => {
    const worker = config(WORKER);
    const paused = await configure({ ...worker, availability: "pause" });
    assert.match(paused.stderr, /availability to change: active -> pause\n/);
    assert.equal((await nodeStates()).get(WORKER)?.Spec.Availability, "pause");
    const active = await configure(worker);
    assert.match(active.stderr, /availability to change: pause -> active\n/);
    assert.match((await configure(worker)).stderr, /nothing to update/);
    assert.equal((await nodeStates()).get(WORKER)?.Spec.Availability, "active");
  });

  await step("e3. a role change promotes and demotes through node-config.sh; the join re-run accepts it", async () => {
    const worker = config(WORKER);
    const since = eventStamp();
    const promoted = await configure({ ...worker, role: "manager" });
    assert.match(promoted.stderr, /role to change: worker -> manager \(promote\)\n/);
    assert.match(promoted.stderr, /role is now manager\n/);
    let state = (await nodeStates()).get(WORKER);
    assert.deepEqual([state?.Spec.Role, state?.ManagerStatus?.Addr, state?.Spec.Availability], ["manager", `${node(WORKER).ip}:2377`, "active"]);
    assert.match((await configure({ ...worker, role: "manager" })).stderr, /role unchanged \(manager\)/);
    // The program re-runs the join in place with the new role's token: no leave, no error.
    const rejoined = await join(WORKER, "manager", tokens[0] ?? "");
    assert.match(rejoined.stderr, /already in the swarm as manager/);

    const demoted = await configure(worker);
    assert.match(demoted.stderr, /role to change: manager -> worker \(demote\)\n/);
    state = (await nodeStates()).get(WORKER);
    assert.deepEqual([state?.Spec.Role, state?.ManagerStatus, state?.Spec.Availability, state?.Status.State], ["worker", undefined, "active", "ready"]);
    const back = await join(WORKER, "worker", tokens[1] ?? "");
    assert.match(back.stderr, /already in the swarm as worker/);
    const drains = (await nodeEvents(since)).filter((e) => e.Actor.Attributes["availability.new"] !== undefined);
    assert.deepEqual(drains, [], "promote and demote never touched availability");
    assert.deepEqual(procScan.leaks, [], "the re-runs leaked no token either");
  });

  await step("e4. a changed address pool is refused by swarm-init.sh on the running swarm", async () => {
    const refused = await script(FIRST_MANAGER, "swarm-init.sh", { NODE_NAME: FIRST_MANAGER, PRIVATE_IP: node(FIRST_MANAGER).ip, DEFAULT_ADDR_POOL: "10.215.0.0/16" }, 1);
    assert.match(refused.stderr, /^t-mgr-01: error: swarm \S+ was created with default address pool '10\.214\.0\.0\/16', DEFAULT_ADDR_POOL asks for '10\.215\.0\.0\/16': the pool is fixed at 'docker swarm init' and cannot change; set it back to '10\.214\.0\.0\/16' \(setting swarmAddrPool\) or rebuild the swarm$/m);
    const same = await script(FIRST_MANAGER, "swarm-init.sh", { NODE_NAME: FIRST_MANAGER, PRIVATE_IP: node(FIRST_MANAGER).ip, DEFAULT_ADDR_POOL });
    assert.match(same.stderr, /with address pools 10\.214\.0\.0\/16, nothing to do/);
  });

  await step("e5. node-remove.sh leaves a node of another server alone (a replacement of the same hostname)", async () => {
    const before = (await nodeStates()).get(WORKER);
    const since = eventStamp();
    for (const stepName of ["prepare", "remove"]) {
      const result = await script(FIRST_MANAGER, "node-remove.sh", { NODE_NAME: WORKER, SERVER_ID: "srv-old-server", REMOVE_STEP: stepName, DOWN_TIMEOUT_S: "5" });
      assert.match(result.stderr, /leaving node \S+ alone: it belongs to server srv-t-app-01, not srv-old-server\n/);
      assert.match(result.stderr, /no node with hostname t-app-01 of server srv-old-server in the swarm, nothing to do/);
    }
    const after = (await nodeStates()).get(WORKER);
    assert.deepEqual(after?.Spec, before?.Spec);
    // Not the node's version index: the manager bumps it for status reports of its own (seen
    // after the demote of e3). What the scripts could do to it would show as these events.
    const touched = (await nodeEvents(since)).filter(
      (e) => e.Action === "remove" || e.Actor.Attributes["availability.new"] !== undefined || e.Actor.Attributes["role.new"] !== undefined,
    );
    assert.deepEqual(touched, [], "node-remove.sh neither drained, demoted nor removed the other server's node");
  });

  await step("f. the worker is drained, leaves and is removed; again is a no-op", async () => {
    const remove = (stepName: string): Promise<RunResult> =>
      script(FIRST_MANAGER, "node-remove.sh", { NODE_NAME: WORKER, SERVER_ID: serverId(WORKER), REMOVE_STEP: stepName, DOWN_TIMEOUT_S: "30" });
    const prepared = await remove("prepare");
    assert.match(prepared.stderr, /drained/);
    const left = await script(WORKER, "swarm-leave.sh", { NODE_NAME: WORKER });
    assert.match(left.stderr, /left the swarm/);
    const removed = await remove("remove");
    assert.match(removed.stderr, /removed from the swarm \(/);
    assert.doesNotMatch(removed.stderr, /--force/);
    assert.ok(!(await nodeStates()).has(WORKER), `${WORKER} is gone from docker node ls`);

    for (const stepName of ["prepare", "remove", "all"]) {
      const result = await remove(stepName);
      assert.match(result.stderr, /no node with hostname t-app-01 of server srv-t-app-01 in the swarm, nothing to do/);
    }
    const leftAgain = await script(WORKER, "swarm-leave.sh", { NODE_NAME: WORKER });
    assert.match(leftAgain.stderr, /not in a swarm, nothing to do/);
  });

  await step("f2. a manager is demoted, leaves and is removed with REMOVE_STEP=all", async () => {
    const name = "t-mgr-03";
    const prepared = await script(FIRST_MANAGER, "node-remove.sh", { NODE_NAME: name, REMOVE_STEP: "prepare" });
    assert.match(prepared.stderr, /already drained/);
    assert.match(prepared.stderr, /demoted to worker/);
    await script(name, "swarm-leave.sh", { NODE_NAME: name });
    const removed = await script(FIRST_MANAGER, "node-remove.sh", { NODE_NAME: name, DOWN_TIMEOUT_S: "30" });
    assert.match(removed.stderr, /removed from the swarm \(/);
    const remaining = [...(await nodeStates()).keys()].sort();
    assert.deepEqual(remaining, ["t-mgr-01", "t-mgr-02"]);
  });

  await step("rejected join tokens fail fast without printing the token", async () => {
    const [prefix, version, caDigest] = (firstTokens[0] ?? "").split("-");
    // Both nodes have left the swarm. Right swarm with a wrong secret (a rotated token),
    // and a token of another swarm.
    const cases: [string, string, RegExp][] = [
      [WORKER, `${prefix}-${version}-${caDigest}-0000000000000000000000000`, /rejected the JOIN_TOKEN/],
      [
        "t-mgr-03",
        "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx",
        /JOIN_TOKEN of node t-mgr-03 belongs to another swarm/,
      ],
    ];
    tokens.push(...cases.map(([, bogus]) => bogus));
    await Promise.all(
      cases.map(async ([name, bogus, expected]) => {
        const result = await script(
          name,
          "swarm-join.sh",
          {
            NODE_NAME: name,
            PRIVATE_IP: node(name).ip,
            ROLE: "worker",
            JOIN_TOKEN: bogus,
            MANAGER_ADDR: node(FIRST_MANAGER).ip,
            JOIN_TIMEOUT_S: "60",
          },
          1,
        );
        assert.match(result.stderr, expected);
        assert.ok(result.durationMs < 30_000, `no retries until the timeout (${result.durationMs} ms)`);
      }),
    );
  });

  if (failed) return;
  t.diagnostic(`bootstrap first run ${firstRunS.toFixed(2)} s, second run ${secondRunS.toFixed(2)} s`);
  console.log(JSON.stringify({ figure: "bootstrap_first_run_s", value: Number(firstRunS.toFixed(2)), unit: "s" }));
  console.log(JSON.stringify({ figure: "bootstrap_second_run_s", value: Number(secondRunS.toFixed(2)), unit: "s" }));
});
