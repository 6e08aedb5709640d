import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  CATALOGUE_AS_OF, LOCATIONS, NETWORK_ZONES, SERVER_TYPES, SERVER_PRICE_LISTS, OTHER_PRICES, BACKUP_PERCENT_OF_SERVER_PRICE,
  findLocation, findServerType, orderability, sameSizeCurrentTypes, monthlyServerPrice, priceOn,
} from "../stacks/hetzner-catalogue";

// Expected values are the figures of the cited sources (see the notes on Hetzner facts), not the module's.
const TODAY = "2026-11-30";

describe("locations and network zones", () => {
  test("the six locations with Hetzner's ids, cities, countries and zones", () => {
    assert.deepEqual(
      LOCATIONS.map((l) => [l.id, l.name, l.description, l.city, l.country, l.networkZone]),
      [
        [1, "fsn1", "Falkenstein DC Park 1", "Falkenstein", "DE", "eu-central"],
        [2, "nbg1", "Nuremberg DC Park 1", "Nuremberg", "DE", "eu-central"],
        [3, "hel1", "Helsinki DC Park 1", "Helsinki", "FI", "eu-central"],
        [4, "ash", "Ashburn, VA", "Ashburn, VA", "US", "us-east"],
        [5, "hil", "Hillsboro, OR", "Hillsboro, OR", "US", "us-west"],
        [6, "sin", "Singapore", "Singapore", "SG", "ap-southeast"],
      ],
    );
  });

  test("network zones group the locations a private network can span", () => {
    assert.deepEqual(NETWORK_ZONES.map((z) => [z.name, [...z.locations]]), [
      ["eu-central", ["fsn1", "nbg1", "hel1"]],
      ["us-east", ["ash"]],
      ["us-west", ["hil"]],
      ["ap-southeast", ["sin"]],
    ]);
  });

  test("a datacenter name is not a location", () => {
    assert.equal(findLocation("fsn1-dc14"), undefined);
    assert.equal(findLocation("hel1")?.country, "FI");
  });
});

describe("server types", () => {
  test("the 2025-10 successors have the sizes Hetzner sells", () => {
    const expected = [
      ["cx23", "cx", "cost-optimized", "x86", "shared", 2, 4, 40],
      ["cx33", "cx", "cost-optimized", "x86", "shared", 4, 8, 80],
      ["cx43", "cx", "cost-optimized", "x86", "shared", 8, 16, 160],
      ["cx53", "cx", "cost-optimized", "x86", "shared", 16, 32, 320],
      ["cpx12", "cpx", "regular-performance", "x86", "shared", 1, 2, 40],
      ["cpx22", "cpx", "regular-performance", "x86", "shared", 2, 4, 80],
      ["cpx52", "cpx", "regular-performance", "x86", "shared", 12, 24, 480],
      ["cpx62", "cpx", "regular-performance", "x86", "shared", 16, 32, 640],
      ["cax31", "cax", "arm", "arm", "shared", 8, 16, 160],
      ["ccx13", "ccx", "dedicated", "x86", "dedicated", 2, 8, 80],
      ["ccx63", "ccx", "dedicated", "x86", "dedicated", 48, 192, 960],
      ["cx42", "cx", "cost-optimized", "x86", "shared", 8, 16, 160],
      ["cpx21", "cpx", "regular-performance", "x86", "shared", 3, 4, 80],
    ] as const;
    for (const [name, ...want] of expected) {
      const t = findServerType(name);
      assert.ok(t, name);
      assert.deepEqual([t.family, t.line, t.architecture, t.cpuType, t.vcpus, t.memoryGb, t.diskGb], want, name);
    }
  });

  test("API ids where the live API was read", () => {
    assert.equal(findServerType("cpx11")?.apiId, 22);
    assert.equal(findServerType("cpx21")?.apiId, 23);
    assert.equal(findServerType("cpx22")?.apiId, 109);
  });

  test("an unknown name is not guessed", () => {
    assert.equal(findServerType("cx99"), undefined);
    assert.equal(findServerType("CX23"), undefined);
  });

  test("every type, offer and price list names a source with a date", () => {
    for (const t of SERVER_TYPES) {
      assert.match(t.source.date, /^\d{4}-\d{2}-\d{2}$/, t.name);
      for (const o of t.offers) {
        assert.ok(findLocation(o.location), `${t.name} offered in unknown ${o.location}`);
        assert.match(o.source.url, /\S/, `${t.name}/${o.location}`);
      }
    }
    for (const l of SERVER_PRICE_LISTS) assert.match(l.source.date, /^\d{4}-\d{2}-\d{2}$/);
    assert.equal(CATALOGUE_AS_OF, "2026-09-08");
  });
});

describe("orderability", () => {
  test("cx22 is orderable before the announcement, deprecated until the last day, unavailable after", () => {
    assert.equal(orderability("cx22", "fsn1", "2025-10-01").status, "orderable");
    const deprecated = orderability("cx22", "nbg1", "2025-11-01");
    assert.equal(deprecated.status, "deprecated");
    assert.equal(deprecated.status === "deprecated" && deprecated.unavailableAfter, "2025-12-31T23:59:59Z");
    assert.equal(orderability("cx42", "hel1", "2025-12-31").status, "deprecated");
    const removed = orderability("cx32", "fsn1", TODAY);
    assert.equal(removed.status, "unavailable");
    assert.equal(removed.status === "unavailable" && removed.unavailableAfter, "2025-12-31T23:59:59Z");
    assert.equal(orderability("cx52", "hel1", "2026-01-01").status, "unavailable");
  });

  test("the EU cpx11-cpx51 are gone, the US ones are still sold, Singapore is not known", () => {
    assert.equal(orderability("cpx41", "fsn1", TODAY).status, "unavailable");
    assert.equal(orderability("cpx11", "ash", TODAY).status, "orderable");
    assert.equal(orderability("cpx51", "hil", TODAY).status, "orderable");
    assert.equal(orderability("cpx21", "sin", TODAY).status, "unknown");
  });

  test("per-location availability: the cx and cax lines are EU only, ccx everywhere", () => {
    assert.equal(orderability("cx23", "fsn1", TODAY).status, "orderable");
    assert.equal(orderability("cx23", "ash", TODAY).status, "not-offered");
    assert.equal(orderability("cax11", "sin", TODAY).status, "not-offered");
    assert.equal(orderability("cpx22", "sin", TODAY).status, "orderable");
    assert.equal(orderability("cpx22", "hil", TODAY).status, "not-offered");
    assert.equal(orderability("ccx13", "sin", TODAY).status, "orderable");
  });

  test("the successors did not exist before their launch", () => {
    assert.equal(orderability("cx23", "fsn1", "2025-10-15").status, "not-offered");
    assert.equal(orderability("cx23", "fsn1", "2025-10-16").status, "orderable");
  });

  test("an incomplete location list answers unknown rather than no", () => {
    assert.equal(orderability("cpx12", "hel1", TODAY).status, "orderable");
    assert.equal(orderability("cpx12", "fsn1", TODAY).status, "unknown");
  });

  test("unknown type, unknown location, bad date", () => {
    assert.deepEqual(orderability("cx99", "fsn1", TODAY), { status: "unknown-type" });
    assert.deepEqual(orderability("cx23", "fsn1-dc14", TODAY), { status: "unknown-location" });
    assert.throws(() => orderability("cx23", "fsn1", "yesterday"), /not a date: "yesterday"/);
  });
});

describe("same-size current types for the error hint", () => {
  test("what replaces each deprecated cx type in fsn1 today", () => {
    const names = (of: string, location?: string) => sameSizeCurrentTypes(of, location, TODAY).map((t) => t.name);
    assert.deepEqual(names("cx22", "fsn1"), ["cax11", "cpx22", "cx23"]);
    assert.deepEqual(names("cx32", "fsn1"), ["cax21", "cpx32", "cx33"]);
    assert.deepEqual(names("cx42", "fsn1"), ["cax31", "cpx42", "cx43"]);
    assert.deepEqual(names("cx52", "fsn1"), ["cax41", "cpx62", "cx53"]);
  });

  test("location-bound and location-free answers differ", () => {
    assert.deepEqual(sameSizeCurrentTypes("cx42", "ash", TODAY).map((t) => t.name), ["cpx41"]);
    assert.deepEqual(sameSizeCurrentTypes("cx42", undefined, TODAY).map((t) => t.name), ["cax31", "cpx41", "cpx42", "cx43"]);
    assert.deepEqual(sameSizeCurrentTypes({ vcpus: 4, memoryGb: 16 }, "sin", TODAY).map((t) => t.name), ["ccx23"]);
  });

  test("before the successors existed the hint offers the old generation", () => {
    assert.deepEqual(sameSizeCurrentTypes("cx23", "fsn1", "2025-10-01").map((t) => t.name), ["cax11", "cx22"]);
  });

  test("an unknown type has no size to match", () => {
    assert.deepEqual(sameSizeCurrentTypes("cx99", "fsn1", TODAY), []);
  });
});

describe("prices", () => {
  test("the 2025-10 list, without the primary IPv4 it was quoted with", () => {
    const eur = (t: string, l: string) => {
      const p = monthlyServerPrice(t, l, "2025-11-01");
      assert.ok(p.known, `${t} ${l}`);
      return p.eur;
    };
    assert.equal(eur("cx23", "fsn1"), 2.99);
    assert.equal(eur("cx43", "hel1"), 8.99);
    assert.equal(eur("cpx22", "nbg1"), 5.99);
    assert.equal(eur("cpx32", "fsn1"), 10.49);
    assert.equal(eur("cax11", "hel1"), 3.29);
    assert.equal(eur("ccx13", "ash"), 12.99);
    assert.equal(eur("ccx13", "sin"), 21);
    assert.equal(eur("cpx11", "hil"), 4.49);
  });

  test("after 2026-04-01 only what a source gives is known; the rest says what it last was", () => {
    const cx33 = monthlyServerPrice("cx33", "fsn1", "2026-05-01");
    assert.ok(cx33.known);
    assert.equal(cx33.eur, 6.49);
    const cx23 = monthlyServerPrice("cx23", "fsn1", "2026-05-01");
    assert.equal(cx23.known, false);
    assert.equal(!cx23.known && cx23.lastKnown?.eur, 2.99);
    assert.equal(!cx23.known && cx23.lastKnown?.priceListEffective, "2025-10-16");
  });

  test("new orders from 2026-06-15, from a low-confidence snapshot", () => {
    const cx43 = monthlyServerPrice("cx43", "hel1", TODAY);
    assert.ok(cx43.known);
    assert.equal(cx43.eur, 15.99);
    assert.equal(cx43.priceListEffective, "2026-06-15");
    assert.equal(cx43.source.confidence, "low");
    const cx23 = monthlyServerPrice("cx23", "nbg1", TODAY);
    assert.equal(cx23.known && cx23.eur, 5.49);
    const cpx42 = monthlyServerPrice("cpx42", "fsn1", TODAY);
    assert.equal(cpx42.known && cpx42.eur, 69.49);
  });

  test("a type, location or day no source prices is unknown", () => {
    assert.equal(monthlyServerPrice("cax11", "fsn1", TODAY).known, false);
    assert.equal(monthlyServerPrice("ccx13", "ash", TODAY).known, false);
    assert.equal(monthlyServerPrice("cx22", "fsn1", TODAY).known, false);
    assert.equal(monthlyServerPrice("cx23", "fsn1", "2025-01-01").known, false);
  });

  test("primary IPv4, floating IPv4, volumes, snapshots and backups", () => {
    const ipv4Then = priceOn(OTHER_PRICES.primaryIpv4PerMonth, "2025-11-01");
    assert.equal(ipv4Then.known && ipv4Then.eur, 0.5);
    const ipv4Now = priceOn(OTHER_PRICES.primaryIpv4PerMonth, TODAY);
    assert.equal(ipv4Now.known, false);
    assert.equal(!ipv4Now.known && ipv4Now.lastKnown?.eur, 0.5);
    assert.equal(priceOn(OTHER_PRICES.floatingIpv4PerMonth, TODAY).known, false);
    const volume = priceOn(OTHER_PRICES.volumePerGbMonth, TODAY);
    assert.equal(volume.known && volume.eur, 0.0572);
    assert.equal(priceOn(OTHER_PRICES.volumePerGbMonth, "2026-03-01").known, false);
    assert.equal(priceOn(OTHER_PRICES.snapshotPerGbMonth, TODAY).known, false);
    assert.equal(BACKUP_PERCENT_OF_SERVER_PRICE.percent, 20);
  });
});
