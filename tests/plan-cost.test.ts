/**
 * The monthly bill (analysis/cost.ts) priced from the dated catalogue. Expectations are the
 * catalogue's literal figures (stacks/hetzner-catalogue.ts SERVER_PRICE_LISTS, OTHER_PRICES) for
 * explicitly named server types, so they do not move with the stacks' default types.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { planCost, type CostResource } from "../analysis/cost";

const server = (name: string, serverType: string, location: string, extra: Record<string, unknown> = {}): CostResource => ({
  type: "hcloud:index/server:Server", name: `cluster-${name}`, inputs: { name, serverType, location, publicNets: [{ ipv4Enabled: true, ipv6Enabled: true }], ...extra },
});
const nodes = [{ name: "mgr-1", pool: "mgr" }, { name: "mgr-2", pool: "mgr" }, { name: "app-1", pool: "app" }, { name: "db-1", pool: "db" }];

describe("monthly cost from the dated catalogue", () => {
  test("2026-09-08: servers from the 2026-06-15 list; the primary IPv4 and floating IP are unknown, never guessed", () => {
    const cost = planCost([
      server("mgr-1", "cx23", "fsn1"), server("mgr-2", "cx23", "nbg1"),
      server("app-1", "cx33", "hel1"),
      { type: "hcloud:index/floatingIp:FloatingIp", name: "edge-ip", inputs: { type: "ipv4", homeLocation: "fsn1" } },
    ], nodes, "2026-09-08");
    assert.equal(cost.currency, "EUR");
    assert.equal(cost.asOf, "2026-09-08");
    // 2026-06-15 list (new orders): cx23 549 cents, cx33 849 cents in the EU, IPv4 not included.
    assert.deepEqual(cost.perNode.map((n) => [n.node, n.lines[0].monthly, n.lines[1].item, n.lines[1].monthly, n.monthly]), [
      ["mgr-1", 5.49, "primary IPv4", "unknown", "unknown"],
      ["mgr-2", 5.49, "primary IPv4", "unknown", "unknown"],
      ["app-1", 8.49, "primary IPv4", "unknown", "unknown"],
    ]);
    assert.equal(cost.monthly, "unknown");
    assert.equal(cost.knownMonthly, 19.47);
    assert.deepEqual(cost.perPool, [{ pool: "mgr", nodes: 2, monthly: "unknown" }, { pool: "app", nodes: 1, monthly: "unknown" }]);
    assert.deepEqual(cost.other.map((o) => [o.item, o.monthly]), [["floating IPv4 edge-ip", "unknown"]]);
    assert.ok(cost.unknown.some((u) => /^primary IPv4: /.test(u)));
    assert.ok(cost.unknown.some((u) => /^floating IPv4 edge-ip: no source/.test(u)));
  });

  test("2026-01-15: the launch list includes the 0.50 EUR primary IPv4, which is billed separately; backups 20 %", () => {
    const cost = planCost([server("mgr-1", "cx23", "fsn1", { backups: true })], nodes, "2026-01-15");
    // 349 cents with IPv4 - 50 cents IPv4 = 2.99 server; backups 20 % of 2.99 = 0.598.
    assert.deepEqual(cost.perNode[0].lines.map((l) => [l.item, l.monthly]), [
      ["server cx23 in fsn1", 2.99], ["primary IPv4", 0.5], ["backups (20 % of the server)", 0.6],
    ]);
    assert.equal(cost.perNode[0].monthly, 4.09);
    assert.equal(cost.monthly, 4.09);
    assert.deepEqual(cost.unknown, []);
  });

  test("a deprecated type the current list does not price is unknown, with the last known figure named", () => {
    const cost = planCost([server("app-1", "cx42", "fsn1")], nodes, "2026-09-08");
    assert.equal(cost.perNode[0].lines[0].monthly, "unknown");
    assert.match(cost.perNode[0].lines[0].basis, /gives no figure for cx42 in fsn1/);
    assert.equal(cost.knownMonthly, 0);
  });

  test("volumes by size; a server without IPv4 has no primary IPv4 line", () => {
    const cost = planCost([
      server("db-1", "cx23", "fsn1", { publicNets: [{ ipv4Enabled: false, ipv6Enabled: true }] }),
      { type: "hcloud:index/volume:Volume", name: "data", inputs: { size: 10 } },
    ], nodes, "2026-05-01");
    assert.deepEqual(cost.perNode[0].lines.map((l) => l.item), ["server cx23 in fsn1"]);
    // 2026-04-01: 0.0572 EUR per GB and month.
    assert.deepEqual(cost.other.map((o) => [o.item, o.monthly]), [["volume data (10 GB)", 0.57]]);
  });
});
