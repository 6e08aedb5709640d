/**
 * The bootstrap scripts without a Swarm: shellcheck finds nothing, every input is
 * documented in the script's header and validated with a message naming the variable,
 * and waits give up with a clear error. Docker is pointed at a socket that does not exist.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";

const SCRIPTS = path.resolve(__dirname, "../scripts/bootstrap");
const NO_DOCKER = "unix:///nonexistent/bootstrap-scripts-test.sock";
const PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
const TOKEN = "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx";

/** Required variables in the order each script checks them, with valid values. */
const REQUIRED: Record<string, Record<string, string>> = {
  "wait-ready.sh": { NODE_NAME: "n1" },
  "swarm-init.sh": { NODE_NAME: "n1", PRIVATE_IP: "10.0.1.11" },
  "swarm-token.sh": { NODE_NAME: "n1", ROLE: "worker" },
  "swarm-join.sh": {
    NODE_NAME: "n1",
    PRIVATE_IP: "10.0.1.12",
    ROLE: "worker",
    JOIN_TOKEN: TOKEN,
    MANAGER_ADDR: "10.0.1.11",
  },
  "node-config.sh": { NODE_NAME: "n1", SERVER_ID: "4711", NODE_ROLE: "worker", NODE_LABELS: "", NODE_AVAILABILITY: "active" },
  "node-remove.sh": { NODE_NAME: "n1" },
  "swarm-leave.sh": { NODE_NAME: "n1" },
};

/** Invalid values, each with the variable the error must name. */
const INVALID: [script: string, variable: string, value: string][] = [
  ["wait-ready.sh", "READY_TIMEOUT_S", "ten"],
  ["wait-ready.sh", "SKIP_CLOUD_INIT_WAIT", "yes"],
  ["swarm-init.sh", "PRIVATE_IP", "10.0.1.300"],
  ["swarm-init.sh", "DEFAULT_ADDR_POOL", "10.214.0.0/33"],
  ["swarm-init.sh", "DEFAULT_ADDR_POOL", "10.214.0.0"],
  ["swarm-init.sh", "DEFAULT_ADDR_POOL_MASK_LEN", "40"],
  ["swarm-token.sh", "ROLE", "admin"],
  ["swarm-join.sh", "PRIVATE_IP", "node-2"],
  ["swarm-join.sh", "ROLE", "leader"],
  ["swarm-join.sh", "MANAGER_ADDR", "10.0.1.11:2377"],
  ["swarm-join.sh", "JOIN_TIMEOUT_S", "0"],
  ["node-config.sh", "NODE_AVAILABILITY", "sleep"],
  ["node-config.sh", "NODE_LABELS", "zone"],
  ["node-config.sh", "NODE_LABELS", "=a"],
  ["node-config.sh", "NODE_LABELS", "zone=a,zone=b"],
  ["node-config.sh", "NODE_READY_TIMEOUT_S", "-1"],
  ["node-config.sh", "NODE_ROLE", "leader"],
  ["node-config.sh", "SERVER_ID", "47 11"],
  ["node-config.sh", "NODE_LABELS", "swarm-platform.server-id=1"],
  ["node-remove.sh", "SERVER_ID", "4711;rm"],
  ["node-remove.sh", "REMOVE_STEP", "everything"],
  ["node-remove.sh", "DRAIN_TIMEOUT_S", "1m"],
  ["node-remove.sh", "DOWN_TIMEOUT_S", "0"],
  ["swarm-leave.sh", "LEAVE_FORCE", "true"],
  ["swarm-leave.sh", "DEMOTE_WAIT_S", "soon"],
];

function scripts(): string[] {
  return fs
    .readdirSync(SCRIPTS)
    .filter((name) => name.endsWith(".sh"))
    .sort();
}

function runScript(name: string, env: Record<string, string>): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync("bash", [path.join(SCRIPTS, name)], {
    env: { PATH, DOCKER_HOST: NO_DOCKER, ...env },
    encoding: "utf8",
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function hasShellcheck(): boolean {
  return spawnSync("shellcheck", ["--version"], { encoding: "utf8" }).status === 0;
}

void test("the bootstrap folder holds exactly the scripts these tests know", () => {
  assert.deepEqual(scripts(), Object.keys(REQUIRED).sort());
});

void test("shellcheck -x finds nothing in scripts/bootstrap", (t) => {
  if (!hasShellcheck()) {
    if (process.env.CI === "true") assert.fail("CI=true but shellcheck is not installed");
    t.skip("shellcheck is not installed");
    return;
  }
  const result = spawnSync("shellcheck", ["-x", "--format=gcc", ...scripts()], { cwd: SCRIPTS, encoding: "utf8" });
  assert.equal(`${result.stdout}${result.stderr}`, "", "shellcheck findings");
  assert.equal(result.status, 0);
});

void describe("every script runs under bash strict mode and documents what it reads", () => {
  for (const name of Object.keys(REQUIRED)) {
    void test(name, () => {
      const text = fs.readFileSync(path.join(SCRIPTS, name), "utf8");
      assert.match(text, /^#!\/usr\/bin\/env bash\n/);
      assert.match(text, /^set -euo pipefail$/m);
      assert.doesNotMatch(text, /set -[a-z]*x|set -o xtrace/, "no xtrace: it would print the join token");
      const header = text.slice(0, text.indexOf("set -euo pipefail"));
      const body = text.slice(header.length);
      const read = new Set([...body.matchAll(/\$\{?!?([A-Z][A-Z0-9_]*)/g)].map((match) => match[1] ?? ""));
      for (const builtin of ["BASH_REMATCH", "SECONDS"]) read.delete(builtin);
      for (const variable of [...read, "DOCKER_HOST"]) {
        assert.match(header, new RegExp(`^#\\s+${variable}\\s`, "m"), `${name} documents ${variable} in its header`);
      }
    });
  }
});

void describe("a missing required variable fails with a message naming it", () => {
  for (const [name, required] of Object.entries(REQUIRED)) {
    void test(`${name} with an empty environment`, () => {
      const first = Object.keys(required)[0] ?? "";
      const result = runScript(name, {});
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, new RegExp(`error: ${first} is required`));
      assert.equal(result.stdout, "");
    });
    for (const variable of Object.keys(required)) {
      void test(`${name} without ${variable}`, () => {
        const env = { ...required };
        delete env[variable];
        const result = runScript(name, env);
        assert.equal(result.code, 1, result.stderr);
        assert.match(result.stderr, new RegExp(`^${variable === "NODE_NAME" ? name : "n1"}: error: ${variable} is required`, "m"));
      });
    }
  }
});

void describe("an invalid value fails with a message naming the variable", () => {
  for (const [name, variable, value] of INVALID) {
    void test(`${name} ${variable}='${value}'`, () => {
      const result = runScript(name, { ...REQUIRED[name], [variable]: value });
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, new RegExp(`^n1: error: .*${variable}`, "m"));
    });
  }
});

void test("a malformed JOIN_TOKEN is refused without being printed", () => {
  const secret = "not-a-token-but-secret-1234";
  const result = runScript("swarm-join.sh", { ...REQUIRED["swarm-join.sh"], JOIN_TOKEN: secret });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /JOIN_TOKEN does not look like a swarm join token/);
  assert.ok(!`${result.stdout}${result.stderr}`.includes(secret), "the token value is not printed");
});

void test("swarm-join.sh refuses a DOCKER_HOST that is no unix socket: the join goes to the local Engine API", () => {
  const result = spawnSync("bash", [path.join(SCRIPTS, "swarm-join.sh")], {
    env: { PATH, ...REQUIRED["swarm-join.sh"], DOCKER_HOST: "tcp://10.0.1.11:2375" },
    encoding: "utf8",
  });
  assert.equal(result.status, 1);
  assert.match(result.stderr, /^n1: error: DOCKER_HOST must be a unix socket \(unix:\/\/PATH\): the join goes to the local Docker Engine API, got 'tcp:\/\/10\.0\.1\.11:2375'$/m);
});

void test("wait-ready.sh gives up after READY_TIMEOUT_S naming the node and the daemon", () => {
  const started = Date.now();
  const result = runScript("wait-ready.sh", { NODE_NAME: "n1", READY_TIMEOUT_S: "1", SKIP_CLOUD_INIT_WAIT: "1" });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^n1: error: timed out after 1s .*node n1.*(Docker daemon|docker command).*READY_TIMEOUT_S/m);
  assert.ok(Date.now() - started < 10_000);
});

void describe("a daemon that does not answer is reported, not waited for forever", () => {
  for (const name of ["swarm-init.sh", "swarm-token.sh", "node-config.sh", "node-remove.sh", "swarm-leave.sh"]) {
    void test(name, () => {
      const result = runScript(name, REQUIRED[name] ?? {});
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^n1: error: .*does not answer 'docker info'/m);
    });
  }
  void test("swarm-join.sh retries until JOIN_TIMEOUT_S", () => {
    const result = runScript("swarm-join.sh", { ...REQUIRED["swarm-join.sh"], JOIN_TIMEOUT_S: "1" });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^n1: error: timed out after 1s waiting for node n1 to join .*JOIN_TIMEOUT_S/m);
  });
});
