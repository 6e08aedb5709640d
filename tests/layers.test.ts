/**
 * The layer rules bite: each deliberate violation, written into a small tree of its own,
 * is reported by dependency-cruiser with the project's own configuration, and the
 * project's tree itself has none (npm test also runs `npm run depcruise`).
 */
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ROOT } from "./support/config";

const CONFIG = join(ROOT, ".dependency-cruiser.cjs");
const DEPCRUISE = join(ROOT, "node_modules", ".bin", "depcruise");

interface Violation {
  readonly rule: { readonly name: string };
  readonly from: string;
  readonly to: string;
}

/** Runs dependency-cruiser on a tree of files (path -> content) and returns the violations. */
function violations(files: Readonly<Record<string, string>>): Violation[] {
  const dir = mkdtempSync(join(tmpdir(), "layers-"));
  try {
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { module: "commonjs", moduleResolution: "node", strict: true } }));
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), content);
    }
    const roots = [...new Set(Object.keys(files).map((p) => p.split("/")[0]))];
    const r = spawnSync(DEPCRUISE, ["--config", CONFIG, "--output-type", "json", ...roots], { cwd: dir, encoding: "utf8" });
    if (!r.stdout) throw new Error(`depcruise gave no output: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { summary: { violations: Violation[] } }).summary.violations;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const names = (v: readonly Violation[]): string[] => [...new Set(v.map((x) => `${x.rule.name}: ${x.from} -> ${x.to}`))].sort();

void describe("dependency-cruiser reports every kind of layer violation", () => {
  void test("an upward import (lib/ importing core/)", () => {
    assert.deepEqual(names(violations({
      "lib/size.ts": 'import { NET } from "../core/networks";\nexport const x = NET;\n',
      "core/networks.ts": "export const NET = 1;\n",
    })), ["lib-imports-no-upper-layer: lib/size.ts -> core/networks.ts"]);
  });

  void test("a type-only upward import (stacks/ importing a core/ type)", () => {
    assert.deepEqual(names(violations({
      "stacks/config.ts": 'import type { Topology } from "../core/topology";\nexport type T = Topology;\n',
      "core/topology.ts": "export interface Topology { readonly nodes: string[] }\n",
    })), ["stacks-imports-no-upper-layer: stacks/config.ts -> core/topology.ts"]);
  });

  void test("a cycle, even of type-only imports", () => {
    const v = names(violations({
      "core/a.ts": 'import type { B } from "./b";\nexport interface A { b?: B }\n',
      "core/b.ts": 'import type { A } from "./a";\nexport interface B { a?: A }\n',
    }));
    // A cycle is reported once, from the first module of it.
    assert.deepEqual(v, ["no-circular: core/a.ts -> core/b.ts"]);
  });

  void test("a family importing monitoring, or another family's internals", () => {
    assert.deepEqual(names(violations({
      "families/redis/index.ts": 'import { PORTS } from "../monitoring/specs";\nimport { x } from "../etcd/specs";\nexport const y = [PORTS, x];\n',
      "families/monitoring/specs.ts": "export const PORTS = 1;\n",
      "families/etcd/specs.ts": "export const x = 1;\n",
    })), [
      "family-imports-another-through-its-index: families/redis/index.ts -> families/etcd/specs.ts",
      "family-imports-another-through-its-index: families/redis/index.ts -> families/monitoring/specs.ts",
      "no-family-imports-monitoring: families/redis/index.ts -> families/monitoring/specs.ts",
    ]);
  });

  void test("the two renderers importing each other", () => {
    assert.deepEqual(names(violations({
      "components/services.ts": 'import { y } from "../render/compose";\nexport const x = y;\n',
      "render/compose.ts": "export const y = 1;\n",
      "render/other.ts": 'import { x } from "../components/services";\nexport const z = x;\n',
    })), [
      "components-not-render: components/services.ts -> render/compose.ts",
      "render-not-components: render/other.ts -> components/services.ts",
    ]);
  });

  void test("the kit importing a family, and the platform importing analysis", () => {
    assert.deepEqual(names(violations({
      "families/kit/member.ts": 'import { x } from "../redis";\nexport const y = x;\n',
      "families/redis/index.ts": "export const x = 1;\n",
      "platform/assemble.ts": 'import { f } from "../analysis/failure";\nexport const g = f;\n',
      "analysis/failure.ts": "export const f = 1;\n",
    })), [
      "kit-imports-no-family: families/kit/member.ts -> families/redis/index.ts",
      "platform-imports-no-upper-layer: platform/assemble.ts -> analysis/failure.ts",
    ]);
  });

  void test("an import in the right direction is no violation", () => {
    assert.deepEqual(violations({
      "core/topology.ts": 'import { n } from "../stacks/pools";\nexport const t = n;\n',
      "stacks/pools.ts": 'import { c } from "../lib/net";\nexport const n = c;\n',
      "lib/net.ts": "export const c = 1;\n",
    }), []);
  });
});
