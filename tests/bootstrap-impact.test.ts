/**
 * What an `up` from one configuration to another does to the bootstrap commands, read from the
 * declared resources: @pulumi/command replaces a `remote.Command` whose `triggers` differ in any
 * way and runs the old one's `delete` at the end of the `up`; any other changed input is an
 * update that re-runs the command in place; a removed command runs its `delete`
 * (docs/provider-facts.md §2 facts 1-3). The pure rule `stepChanges` (core/bootstrap.ts), which
 * the change-impact estimator uses, must say the same.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { runProgram, reveal, type ProgramRun } from "../tools/mock-runtime";
import { bootstrapSteps, stepChanges, type StepAction } from "../core/bootstrap";
import { buildTopology } from "../core/topology";
import { loadStack, withOverrides } from "./support/config";
import { bootstrapState } from "./support/bootstrap-state";

const state = bootstrapState;

/** A declared command with server ids written as `server:<node>`, so that two runs compare as the engine would. */
interface Declared {
  readonly triggers: string;
  readonly inputs: string;
  readonly deleteScript?: string;
  readonly deleteText?: string;
}

async function declared(overrides: Record<string, unknown>): Promise<Map<string, Declared>> {
  const run: ProgramRun = await runProgram("test", withOverrides("test", overrides), { state });
  const serverOf = new Map(run.byType("hcloud:index/server:Server").map((s) => [s.id, `server:${s.name.replace(/^cluster-/, "")}`]));
  const named = (text: string): string => text.replace(/SERVER_ID='([^']+)'/g, (_, id: string) => `SERVER_ID='${serverOf.get(id) ?? id}'`);
  return new Map(run.byType("command:remote:Command").map((c) => {
    const inputs = reveal(c.inputs) as Record<string, unknown>;
    const triggers = (inputs.triggers as string[]).map((id) => serverOf.get(id) ?? id);
    const { triggers: _t, ...rest } = inputs;
    const deleteText = typeof inputs.delete === "string" ? named(inputs.delete) : undefined;
    return [c.name.replace(/^swarm-/, ""), {
      triggers: JSON.stringify(triggers),
      inputs: named(JSON.stringify(rest)),
      deleteScript: deleteText ? /^script=(\S+)\.sh$/m.exec(deleteText)?.[1] : undefined,
      deleteText,
    }];
  }));
}

interface Impact {
  readonly replaced: string[];
  readonly updated: string[];
  readonly created: string[];
  readonly deleted: string[];
  /** Delete scripts that would run (old commands of replacements, removed commands), by command. */
  readonly deletesRun: Record<string, string>;
}

function impact(before: Map<string, Declared>, after: Map<string, Declared>): Impact {
  const result: Impact = { replaced: [], updated: [], created: [], deleted: [], deletesRun: {} };
  for (const [name, now] of after) {
    const was = before.get(name);
    if (!was) result.created.push(name);
    else if (was.triggers !== now.triggers) {
      result.replaced.push(name);
      if (was.deleteScript) result.deletesRun[name] = was.deleteScript;
    } else if (was.inputs !== now.inputs) result.updated.push(name);
  }
  for (const [name, was] of before) {
    if (after.has(name)) continue;
    result.deleted.push(name);
    if (was.deleteScript) result.deletesRun[name] = was.deleteScript;
  }
  for (const list of [result.replaced, result.updated, result.created, result.deleted]) list.sort();
  return result;
}

/** The same impact from the pure rule, for the estimator. */
function pureImpact(beforeOverrides: Record<string, unknown>, afterOverrides: Record<string, unknown>): Impact {
  const plan = (o: Record<string, unknown>) => {
    const cfg = loadStack("test", o);
    return bootstrapSteps(cfg, buildTopology(cfg));
  };
  const changes = stepChanges(plan(beforeOverrides), plan(afterOverrides));
  const of = (action: StepAction) => changes.filter((c) => c.action === action).map((c) => c.id).sort();
  const deletesRun: Record<string, string> = {};
  for (const c of changes) {
    if (c.action === "delete" && c.runs.length > 0) deletesRun[c.id] = c.runs[0];
    if (c.action === "replace" && c.runs.length > 1) deletesRun[c.id] = c.runs[1];
  }
  return { replaced: of("replace"), updated: of("update"), created: of("create"), deleted: of("delete"), deletesRun };
}

const POOLS = {
  mgr: "mgr role=manager count=1 type=cx23 locations=fsn1 labels=type:service ipOffset=10",
  app: (fields: string) => `app ${fields} type=cx33 locations=fsn1 ipOffset=30`,
};
const BASE = { nodePools: [POOLS.mgr, POOLS.app("role=worker count=2 labels=type:service")] };

const CASES: { title: string; after: Record<string, unknown>; expected: Impact }[] = [
  {
    title: "a label change re-runs node-config in place: nothing replaced, nothing drained",
    after: { nodePools: [POOLS.mgr, POOLS.app("role=worker count=2 labels=type:service,zone:a")] },
    expected: { replaced: [], updated: ["config-test-app-01", "config-test-app-02"], created: [], deleted: [], deletesRun: {} },
  },
  {
    title: "an availability change (managers drained) re-runs node-config of the manager in place",
    after: { managersRunWorkloads: "false" },
    expected: { replaced: [], updated: ["config-test-mgr-01"], created: [], deleted: [], deletesRun: {} },
  },
  {
    title: "a role change promotes through node-config and re-runs the join in place; no leave, no drain",
    after: { nodePools: [POOLS.mgr, POOLS.app("role=manager count=2 labels=type:service")] },
    expected: {
      replaced: [],
      updated: ["config-test-app-01", "config-test-app-02", "join-test-app-01", "join-test-app-02"],
      created: [],
      // No worker is left, so no worker token is read; the token step has no delete script.
      deleted: ["token-worker"],
      deletesRun: {},
    },
  },
  {
    title: "an address-pool change re-runs swarm-init in place (which refuses it) instead of replacing init",
    after: { swarmAddrPool: "10.129.0.0/16" },
    expected: { replaced: [], updated: ["init"], created: [], deleted: [], deletesRun: {} },
  },
  {
    title: "a node address change re-runs wait and join in place (swarm-join refuses an address it does not advertise)",
    after: { nodePools: [POOLS.mgr, "app role=worker count=2 type=cx33 locations=fsn1 labels=type:service ipOffset=40"] },
    expected: { replaced: [], updated: ["join-test-app-01", "join-test-app-02", "wait-test-app-01", "wait-test-app-02"], created: [], deleted: [], deletesRun: {} },
  },
  {
    title: "a node added creates its four steps and touches no other",
    after: { nodePools: [POOLS.mgr, POOLS.app("role=worker count=3 labels=type:service")] },
    expected: {
      replaced: [],
      updated: [],
      created: ["config-test-app-03", "join-test-app-03", "member-test-app-03", "wait-test-app-03"],
      deleted: [],
      deletesRun: {},
    },
  },
  {
    title: "a node removed runs exactly its drain, leave and remove",
    after: { nodePools: [POOLS.mgr, POOLS.app("role=worker count=1 labels=type:service")] },
    expected: {
      replaced: [],
      updated: [],
      created: [],
      deleted: ["config-test-app-02", "join-test-app-02", "member-test-app-02", "wait-test-app-02"],
      deletesRun: { "config-test-app-02": "node-remove", "join-test-app-02": "swarm-leave", "member-test-app-02": "node-remove" },
    },
  },
];

describe("bootstrap change impact (test stack, declared resources)", () => {
  let base: Map<string, Declared>;

  test("an unchanged configuration changes no command", async () => {
    base = await declared(BASE);
    assert.deepEqual(impact(base, await declared(BASE)), { replaced: [], updated: [], created: [], deleted: [], deletesRun: {} });
  });

  for (const c of CASES) {
    test(c.title, async () => {
      base ??= await declared(BASE);
      const after = await declared(c.after);
      assert.deepEqual(impact(base, after), c.expected);
      assert.deepEqual(pureImpact(BASE, c.after), c.expected, "stepChanges says the same");
    });
  }

  test("the removed node's delete scripts act on its own server: drain first, then remove, both by server id", async () => {
    base ??= await declared(BASE);
    const config = base.get("config-test-app-02")!.deleteText!;
    const member = base.get("member-test-app-02")!.deleteText!;
    assert.match(config, /^export REMOVE_STEP='prepare'$/m);
    assert.match(config, /^export SERVER_ID='server:test-app-02'$/m);
    assert.match(member, /^export REMOVE_STEP='remove'$/m);
    assert.match(member, /^export SERVER_ID='server:test-app-02'$/m);
  });

  test("a replaced server replaces exactly its node's steps, and their old deletes carry the old server id", () => {
    const cfg = loadStack("test", BASE);
    const steps = bootstrapSteps(cfg, buildTopology(cfg));
    const changes = stepChanges(steps, steps, { before: (n) => `old-${n}`, after: (n) => (n === "test-app-02" ? `new-${n}` : `old-${n}`) });
    assert.deepEqual(changes.filter((c) => c.action !== "same"), [
      { id: "wait-test-app-02", action: "replace", runs: ["wait-ready"] },
      { id: "member-test-app-02", action: "replace", runs: ["wait-ready", "node-remove"] },
      { id: "join-test-app-02", action: "replace", runs: ["swarm-join", "swarm-leave"] },
      { id: "config-test-app-02", action: "replace", runs: ["node-config", "node-remove"] },
    ]);
  });
});
