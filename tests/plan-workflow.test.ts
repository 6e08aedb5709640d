/**
 * The pull-request workflow's `impact` job: the base branch's plan is made in its own worktree,
 * the PR's plan is compared with it (`plan --against`), and the impact is posted beside the
 * preview. The comment step is read as structure; the impact step's script is run for real on
 * this checkout against a plan of this checkout (so: nothing changes).
 */
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { ROOT } from "./support/config";

type Step = { name?: string; uses?: string; run?: string; if?: string; env?: Record<string, string>; with?: Record<string, unknown> };
const doc = parse(readFileSync(join(ROOT, ".github", "workflows", "pull-request.yml"), "utf8")) as { jobs: Record<string, { needs?: string; steps: Step[]; env: Record<string, string>; permissions: Record<string, string>; strategy: { matrix: { stack: string[] } }; if?: string }> };

describe("pull-request workflow: offline change impact", () => {
  const job = doc.jobs.impact;
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), "plan-workflow-"));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test("runs for both stacks after the checks, with no cloud secret, forks included", () => {
    assert.ok(job, "pull-request.yml has an impact job");
    assert.equal(job.needs, "checks");
    assert.deepEqual(job.strategy.matrix.stack, ["test", "prod"]);
    assert.equal(job.if, undefined, "the offline plan needs no secret: forks get the impact in the job summary");
    assert.deepEqual(job.permissions, { contents: "read", "pull-requests": "write" });
    assert.equal(job.steps[0].uses, "actions/checkout@v4");
    assert.equal(job.steps[0].with?.["fetch-depth"], 0, "the base branch must be there to plan it");
    const text = JSON.stringify(job);
    assert.ok(!/secrets\.(?!GITHUB_TOKEN)/.test(text), "only the GITHUB_TOKEN, for the comment");
  });

  test("the base plan is made in a worktree of the base branch with the base's own dependencies", () => {
    const base = job.steps.find((s) => s.run?.includes("git worktree add"));
    assert.ok(base);
    assert.deepEqual(base.run!.trim().split("\n"), [
      'git worktree add --detach "$RUNNER_TEMP/base" "origin/$BASE_REF"',
      'cd "$RUNNER_TEMP/base"',
      "npm ci --no-audit --no-fund",
      'npm run --silent plan -- --stack "$STACK" --format json > "$RUNNER_TEMP/base.json"',
    ]);
    assert.equal(job.env.BASE_REF, "${{ github.base_ref }}");
  });

  test("the impact step, run here: the comment body holds the impact section and no warnings", () => {
    const step = job.steps.find((s) => s.run?.includes("--against"));
    assert.ok(step);
    const basePlan = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "tools", "plan.ts"), "--stack", "test", "--format", "json"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    assert.equal(basePlan.status, 0, basePlan.stderr);
    writeFileSync(join(tmp, "base.json"), basePlan.stdout);
    const summary = join(tmp, "summary.md");
    const r = spawnSync("bash", ["-euo", "pipefail", "-c", step.run!], {
      cwd: ROOT, encoding: "utf8", timeout: 120_000,
      env: { ...process.env, RUNNER_TEMP: tmp, STACK: "test", GITHUB_STEP_SUMMARY: summary },
    });
    assert.equal(r.status, 0, r.stderr);
    const body = readFileSync(join(tmp, "impact.md"), "utf8");
    const lines = body.split("\n");
    assert.equal(lines[0], "<!-- offline-change-impact:test -->");
    assert.equal(lines[1], "### Offline change impact: `test`");
    assert.match(body, /^Change impact against .*base\.json$/m);
    assert.match(body, /`pulumi preview` decides/);
    assert.match(body, /^0 to create, 0 to update, 0 to replace, 0 to delete, \d+ unchanged$/m);
    assert.ok(!body.includes("WARNING:"));
    assert.equal(lines.filter((l) => l === "```text" || l === "```").length, 2);
    assert.equal(readFileSync(summary, "utf8"), body);
  });

  test("the comment is posted only from the repository itself and edited in place on every push", () => {
    const post = job.steps.find((s) => s.run?.includes("gh api"));
    assert.ok(post);
    assert.equal(post.if, "github.event.pull_request.head.repo.full_name == github.repository");
    assert.equal(post.env?.GH_TOKEN, "${{ secrets.GITHUB_TOKEN }}");
    assert.match(post.run!, /--method PATCH "repos\/\$REPO\/issues\/comments\/\$id"/);
    assert.match(post.run!, /startswith\(\\"\$marker\\"\)/);
  });
});
