import { test, describe } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadStack, problemsOf, ROOT, withOverrides } from "./support/config";
import { loadStackConfig } from "../platform/config";
import { catalogueServerTypes, liveServerTypeProblems } from "../components/server-types";
import { runProgram } from "../tools/mock-runtime";
import { declareStack } from "../components/stack";
import { parsePools } from "../stacks/pools";

const DAY = "2026-12-07";

describe("node pools against the dated Hetzner catalogue", () => {
  test("cx22 is refused naming nodePools[0].type, with the current types of its size", () => {
    const err = problemsOf(() => loadStackConfig("test", withOverrides("test", { nodePools: ["mgr role=manager count=1 type=cx22 locations=fsn1 labels=type:service", "app role=worker count=2 type=cx33 locations=fsn1 labels=type:service"] }), { date: DAY }));
    assert.deepEqual(err.keys, ["nodePools[0].type"]);
    const line = err.message.split("\n").find((l) => l.includes("nodePools[0].type"))!;
    assert.match(line, /^ {2}- swarm-platform:nodePools\[0\]\.type: expected a server type Hetzner still sells: cx22 can no longer be ordered in fsn1 \(since 2025-12-31, https:\/\/\S+\); current types of the same size \(2 vCPU, 4 GB\) in fsn1: cax11, cpx22, cx23, got "cx22"$/);
  });

  test("a type the catalogue does not know is refused with the types sold in the pool's locations", () => {
    const err = problemsOf(() => loadStack("test", { nodePools: ["mgr role=manager count=1 type=cx99 locations=fsn1 labels=type:service", "app role=worker count=2 type=cx33 locations=fsn1 labels=type:service"] }));
    assert.deepEqual(err.keys, ["nodePools[0].type"]);
    assert.match(err.message, /nodePools\[0\]\.type: expected a server type Hetzner sells \(Hetzner catalogue as of 2026-09-08, stacks\/hetzner-catalogue\.ts\); current types in fsn1: cx23, cx33, cx43, cx53, cax11, .*, got "cx99"/);
  });

  test("a type not sold in a location is refused (cx23 is EU only)", () => {
    const err = problemsOf(() => loadStack("test", { networkZone: "us-east", nodePools: ["mgr role=manager count=1 type=cx23 locations=ash labels=type:service", "app role=worker count=2 type=ccx13 locations=ash labels=type:service"] }));
    assert.deepEqual(err.keys, ["nodePools[0].type"]);
    assert.match(err.message, /expected a server type sold in ash \(cx23 is not, .*\); no current type of the same size \(2 vCPU, 4 GB\) is sold in every one of ash/);
  });

  test("a deprecated type that can still be ordered is a warning, not an error", () => {
    const cfg = loadStackConfig("test", withOverrides("test", { nodePools: ["mgr role=manager count=1 type=cx22 locations=fsn1 labels=type:service", "app role=worker count=2 type=cx33 locations=fsn1 labels=type:service"] }), { date: "2025-11-01" });
    const pools = cfg.configWarnings.filter((w) => w.startsWith("nodePools"));
    assert.equal(pools.length, 1);
    assert.match(pools[0], /^nodePools\[0\]\.type \(pool mgr\): Hetzner deprecated cx22 in fsn1; it cannot be ordered after 2025-12-31 .*cax11, cpx22, cx23$/);
  });

  test("a datacenter name is refused with its location as the fix", () => {
    const err = problemsOf(() => loadStack("test", { nodePools: ["mgr role=manager count=1 type=cx23 locations=fsn1-dc14 labels=type:service", "app role=worker count=2 type=cx33 locations=fsn1 labels=type:service"] }));
    assert.deepEqual(err.keys, ["nodePools[0].locations"]);
    assert.match(err.message, /swarm-platform:nodePools\[0\]\.locations: expected a location, not a datacenter name \(Hetzner's API takes locations only\): use fsn1, got "fsn1-dc14"/);
  });

  test("per-key and cross-setting problems are reported in one pass", () => {
    const err = problemsOf(() => loadStack("prod", { sshPort: "2377", redisMembers: "many", nodePools: ["mgr role=manager count=3 type=cx32 locations=fsn1,nbg1,hel1", "app role=worker count=3 type=cx43 locations=fsn1,nbg1,hel1 labels=type:service ipOffset=30"] }));
    assert.deepEqual(err.keys.sort(), ["nodePools[0].type", "redisMembers", "sshPort"]);
  });

  test("the committed stacks use types Hetzner sells today: cx23 managers, cx33 test apps, cx43 prod apps", () => {
    for (const [stack, types] of [["test", ["cx23", "cx33"]], ["prod", ["cx23", "cx43"]]] as const) {
      const cfg = loadStack(stack);
      assert.deepEqual(cfg.nodePools.map((p) => p.serverType), types);
      assert.deepEqual(cfg.configWarnings.filter((w) => w.startsWith("nodePools")), []);
    }
  });
});

describe("the live server-type check at preview (hcloud getServerTypes)", () => {
  const pools = parsePools(["mgr role=manager count=3 type=cx23 locations=fsn1,nbg1,hel1", "app role=worker count=3 type=cx43 locations=fsn1,nbg1,hel1"]);
  const live = catalogueServerTypes(`${DAY}T12:00:00Z`).serverTypes;

  test("the catalogue's answer lists current types and leaves out the removed ones", () => {
    const names = live.map((t) => t.name);
    assert.ok(names.includes("cx23") && names.includes("cpx11"));
    assert.ok(!names.includes("cx22"), "cx22-cx52 are gone from the API");
    const cpx11 = live.find((t) => t.name === "cpx11")!;
    assert.deepEqual(cpx11.locations.find((l) => l.name === "fsn1"), {
      id: 1, name: "fsn1", available: true, recommended: false, isDeprecated: true,
      deprecationAnnounced: "2025-10-16T06:00:00Z", unavailableAfter: "2025-12-31T23:59:59Z",
    });
    assert.deepEqual(liveServerTypeProblems(pools, live, new Date(DAY)), { problems: [], warnings: [] });
  });

  test("a type the API marks deprecated in a pool's location fails with the pool's key and what to use", () => {
    const changed = live.map((t) => t.name !== "cx43" ? t : {
      ...t,
      locations: t.locations.map((l) => l.name !== "nbg1" ? l : { ...l, isDeprecated: true, deprecationAnnounced: "2026-11-02T06:00:00Z", unavailableAfter: "2027-01-31T23:59:59Z" }),
    });
    const { problems } = liveServerTypeProblems(pools, changed, new Date(DAY));
    assert.deepEqual(problems, [
      "nodePools[1].type (pool app): Hetzner's API marks cx43 deprecated in nbg1 since 2026-11-02T06:00:00Z; it cannot be ordered after 2027-01-31T23:59:59Z; the API offers the same size (8 vCPU, 16 GB) there as cax31, cpx42",
    ]);
    const gone = liveServerTypeProblems(pools, changed.filter((t) => t.name !== "cx23"), new Date(DAY)).problems;
    assert.equal(gone[0], "nodePools[0].type (pool mgr): Hetzner's API does not list server type cx23 any more; pick a current type (hcloud server-type list, or stacks/hetzner-catalogue.ts)");
  });

  test("the program calls getServerTypes once and the preview fails with the message when a type is not offered", async () => {
    const calls: string[] = [];
    const run = await runProgram("prod", withOverrides("prod", {}), { preview: true, call: (args) => { calls.push(args.token); return {}; } });
    assert.deepEqual(calls, ["hcloud:index/getServerTypes:getServerTypes"]);
    assert.equal(run.byType("hcloud:index/server:Server").length, 6);

    // The failing case runs in its own process, as a program under the language host: the host fails
    // the program on the unhandled rejection and prints a RunError's message alone
    // (@pulumi/pulumi cmd/run/run.js uncaughtHandler); the script mirrors that handler.
    const dir = mkdtempSync(join(tmpdir(), "server-types-"));
    try {
      const script = join(dir, "check.ts");
      writeFileSync(script, [
        `import * as pulumi from ${JSON.stringify(join(ROOT, "node_modules", "@pulumi", "pulumi"))};`,
        `import { catalogueServerTypes, checkServerTypes } from ${JSON.stringify(join(ROOT, "components", "server-types"))};`,
        `import { parsePools } from ${JSON.stringify(join(ROOT, "stacks", "pools"))};`,
        `process.on("unhandledRejection", (e) => { process.stderr.write(pulumi.RunError.isInstance(e) ? (e as Error).message : "not a RunError: " + String(e)); process.exit(1); });`,
        `const answer = catalogueServerTypes("${DAY}");`,
        `void pulumi.runtime.setMocks({ newResource: (a) => ({ id: a.name, state: a.inputs }), call: () => ({ ...answer, serverTypes: answer.serverTypes.filter((t) => t.name !== "cx43") }) }, "swarm-platform", "prod", true)`,
        `  .then(() => checkServerTypes(parsePools(${JSON.stringify(["mgr role=manager count=3 type=cx23 locations=fsn1,nbg1,hel1", "app role=worker count=3 type=cx43 locations=fsn1,nbg1,hel1"])})));`,
        "",
      ].join("\n"));
      const r = spawnSync(process.execPath, ["--import", "tsx", script], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stderr, "server types Hetzner does not sell where the pools put them (live API, hcloud getServerTypes):\n" +
        "  - nodePools[1].type (pool app): Hetzner's API does not list server type cx43 any more; pick a current type (hcloud server-type list, or stacks/hetzner-catalogue.ts)");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("without a Hetzner token the program makes no API call; with hcloud:token it makes one", async () => {
    const saved = process.env.HCLOUD_TOKEN;
    delete process.env.HCLOUD_TOKEN;
    try {
      for (const [token, expected] of [[undefined, []], ["t".repeat(64), ["hcloud:index/getServerTypes:getServerTypes"]]] as const) {
        const calls: string[] = [];
        await pulumi.runtime.setMocks({
          newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }),
          call: (args) => {
            calls.push(args.token);
            return catalogueServerTypes(DAY);
          },
        }, "swarm-platform", "test", true);
        const raw = withOverrides("test", token ? { "hcloud:token": token } : {});
        pulumi.runtime.setAllConfig(raw, token ? ["hcloud:token"] : []);
        const declared = declareStack(loadStackConfig("test", raw));
        await (declared.serverTypes as pulumi.Output<string[]> & { promise(): Promise<string[]> }).promise();
        assert.deepEqual(calls, expected);
      }
    } finally {
      if (saved !== undefined) process.env.HCLOUD_TOKEN = saved;
    }
  });
});
