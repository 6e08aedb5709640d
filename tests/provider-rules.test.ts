/**
 * analysis/provider-rules.ts is the "Replacement rules" table of docs/provider-facts.md as data:
 * the two must name the same inputs that force a replacement and the same default order, and
 * every resource type the program registers must have a rule.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { TYPE_RULES, hasRule, replacingPaths } from "../analysis/provider-rules";
import { planStack } from "../tools/plan";
import { ROOT } from "./support/config";

interface Row { type: string; forceNew: string[]; deleteFirst: boolean }

/** The table's rows for single resource types: the backticked paths of column 2 outside parentheses. */
function tableRows(): Row[] {
  const text = readFileSync(join(ROOT, "docs", "provider-facts.md"), "utf8");
  const section = text.slice(text.indexOf("## Replacement rules"));
  const rows: Row[] = [];
  for (const line of section.split("\n")) {
    const cells = line.split(" | ").map((c) => c.replace(/^\|\s*|\s*\|$/g, "").trim());
    const type = /^`([^`]+)`$/.exec(cells[0] ?? "")?.[1];
    if (!type || cells.length < 3 || !type.includes("/") && !type.startsWith("command:")) continue;
    const force = cells[1].replace(/\([^()]*(\([^()]*\)[^()]*)*\)/g, "").split(/\bexcept\b/)[0];
    const tokens = [...force.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    const paths: string[] = [];
    for (const t of tokens) {
      if (t.startsWith(".")) paths.push(paths[paths.length - 1].replace(/\.[^.]+$/, "") + t);
      else paths.push(t.replace(/\.\*$/, ""));
    }
    rows.push({ type, forceNew: paths.includes("*") ? ["*"] : paths, deleteFirst: /^delete-first/i.test(cells[2]) });
  }
  return rows;
}

describe("provider replacement rules", () => {
  test("TYPE_RULES and the provider-facts table agree, row for row", () => {
    const rows = tableRows();
    assert.ok(rows.length >= 15, `read ${rows.length} rows`);
    assert.deepEqual(rows.map((r) => r.type).sort(), Object.keys(TYPE_RULES).sort());
    for (const r of rows) {
      assert.deepEqual([...TYPE_RULES[r.type].forceNew].sort(), [...r.forceNew].sort(), r.type);
      assert.equal(TYPE_RULES[r.type].deleteFirst, r.deleteFirst, `${r.type} default order`);
    }
  });

  test("paths match at property boundaries; indexes match [*]", () => {
    const SERVICE = "docker:index/service:Service";
    assert.deepEqual(replacingPaths(SERVICE, ["taskSpec.containerSpec.mounts[2].target"]), ["taskSpec.containerSpec.mounts[2].target"]);
    assert.deepEqual(replacingPaths(SERVICE, ["taskSpec.containerSpec.image", "taskSpec.containerSpec.hostsX"]), []);
    assert.deepEqual(replacingPaths(SERVICE, ["mode.replicated.replicas"]), []);
    assert.deepEqual(replacingPaths("hcloud:index/server:Server", ["serverType", "location"]), ["location"]);
    assert.deepEqual(replacingPaths("command:remote:Command", ["stdin"], ["triggers[*]"]), []);
    assert.deepEqual(replacingPaths("command:remote:Command", ["triggers[0]"], ["triggers[*]"]), ["triggers[0]"]);
    assert.deepEqual(replacingPaths("hcloud:index/networkSubnet:NetworkSubnet", ["ipRange"]), ["ipRange"]);
  });

  test("every resource type the prod stack registers has a rule", async () => {
    const { report } = await planStack(ROOT, "prod");
    const missing = [...new Set(report.resources.map((r) => r.type))].filter((t) => !hasRule(t));
    assert.deepEqual(missing, []);
  });
});
