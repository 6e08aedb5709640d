import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { environmentProblems } from "../platform/environment";
import { ROOT } from "./support/config";

test("DOCKER_CONTEXT in the operator's environment is refused: the Docker provider would follow it instead of the leader", () => {
  assert.deepEqual(environmentProblems({}), []);
  assert.deepEqual(environmentProblems({ DOCKER_CONTEXT: "" }), []);
  const [problem] = environmentProblems({ DOCKER_CONTEXT: "staging" });
  assert.equal(problem.variable, "DOCKER_CONTEXT");
  assert.match(problem.message, /DOCKER_CONTEXT is set to "staging"/);
  assert.match(problem.message, /env -u DOCKER_CONTEXT pulumi up/);
});

test("the program's entry point checks the environment before it reads any setting", () => {
  const run = (env: Record<string, string>) => spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "index.ts")], {
    cwd: ROOT, encoding: "utf8", env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env }, timeout: 60_000,
  });
  const refused = run({ DOCKER_CONTEXT: "staging" });
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /DOCKER_CONTEXT is set to "staging"/);
  // Without it the same run gets past the check and stops later, at the settings (no engine here).
  const plain = run({});
  assert.doesNotMatch(plain.stderr, /DOCKER_CONTEXT/);
});
