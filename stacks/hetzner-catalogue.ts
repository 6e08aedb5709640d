/**
 * Hetzner Cloud facts the program plans with, kept as dated data.
 *
 * Hetzner retires server types, moves prices and drops API fields on its own schedule
 * (cx22/cx32/cx42/cx52 and the EU cpx11-cpx51 stopped being orderable on 2025-12-31; prices
 * rose for every server on 2026-04-01 and again for new orders on 2026-06-15). A plan that
 * silently used stale facts would promise servers Hetzner no longer sells, so every fact here
 * names its source and the day it held, and a figure no source gave is "unknown", never a guess.
 * `pulumi preview` with a token checks the live API; this file is what the offline plan knows.
 *
 * Pure data and lookups: no imports, no clock (callers pass the date they plan for).
 */

/** The newest day any fact below is known to hold. Each fact carries its own source and date. */
export const CATALOGUE_AS_OF = "2026-09-08";

export type Confidence =
  /** Hetzner's own API, documentation or provider source, or its acceptance tests against the live API. */
  | "primary"
  /** A third party quoting Hetzner's price list or API, corroborated by another source. */
  | "secondary"
  /** A single third-party snapshot; use for estimates, and say so. */
  | "low";

export interface Source {
  readonly url: string;
  /** The day the source states its data held (or was published). */
  readonly date: string;
  readonly says: string;
  readonly confidence: Confidence;
}

export const SOURCES = {
  cliLocationList: {
    url: "https://github.com/hetznercloud/cli/blob/1255e95/docs/guides/using-output-options.md#noheader",
    date: "2026-08-17",
    says: "`hcloud location list`: 1 fsn1 Falkenstein DC Park 1 eu-central DE; 2 nbg1 Nuremberg DC Park 1 eu-central DE; " +
      "3 hel1 Helsinki DC Park 1 eu-central FI; 4 ash Ashburn, VA us-east US; 5 hil Hillsboro, OR us-west US; 6 sin Singapore ap-southeast SG",
    confidence: "primary",
  },
  providerLocationTest: {
    url: "https://github.com/hetznercloud/terraform-provider-hcloud/blob/v1.68.0/internal/location/data_source_test.go#L66-L94",
    date: "2026-05-27",
    says: "acceptance test against the live API: exactly 6 locations fsn1, nbg1, hel1, ash, hil, sin (ids 1-6); zones eu-central, us-east, us-west, ap-southeast",
    confidence: "primary",
  },
  changelogServerTypesDeprecated: {
    url: "https://docs.hetzner.cloud/changelog#2025-10-16-server-types-deprecated",
    date: "2025-10-16",
    says: "the CX Gen 2 (cx22-cx52) and CPX Gen 1 (cpx11-cpx51) server types are deprecated; successors cx23-cx53 and cpx12-cpx62",
    confidence: "primary",
  },
  providerCpx11DeprecationTest: {
    url: "https://github.com/hetznercloud/terraform-provider-hcloud/blob/d79720fc/internal/servertype/data_source_test.go",
    date: "2025-10-17",
    says: "live API: cpx11 (id 22, 2 cores, 2 GB, 40 GB, 6 locations) in fsn1: deprecation_announced 2025-10-16T06:00:00Z, unavailable_after 2025-12-31T23:59:59Z",
    confidence: "primary",
  },
  providerDeprecationWarning: {
    url: "https://github.com/hcloud-talos/terraform-hcloud-talos/issues/316",
    date: "2025-10-22",
    says: "provider warning: Server Type \"cx42\" is deprecated in all locations and will no longer be available for order as of 2025-12-31 (\"same as CX22\")",
    confidence: "primary",
  },
  maintainerRemovalNote: {
    url: "https://github.com/hetznercloud/terraform-provider-hcloud/pull/1233",
    date: "2025-10-27",
    says: "The CX Gen 2 and CPX Gen 1 types are deprecated and will be removed from the API at the end of the year",
    confidence: "primary",
  },
  providerServerTypeTest: {
    url: "https://github.com/hetznercloud/terraform-provider-hcloud/blob/v1.68.0/internal/servertype/data_source_test.go#L17-L106",
    date: "2026-07-16",
    says: "live API: cpx22 is id 109, category regular_purpose, 2 cores, 4 GB, 80 GB local disk, shared x86, 4 locations starting with fsn1, not deprecated; " +
      "the type list still starts with cpx11 (id 22) and cpx21 (id 23), not deprecated as a whole",
    confidence: "primary",
  },
  providerCpx12Default: {
    url: "https://github.com/hetznercloud/terraform-provider-hcloud/commit/158e11d4",
    date: "2026-07-16",
    says: "\"test: use smallest server type available\": acceptance tests create cpx12 servers in hel1",
    confidence: "primary",
  },
  launchPriceList: {
    url: "https://github.com/tonoid/hcloud-multiregion-mongodb-replicaset/blob/0753c4c/HETZNER_SERVERS.md",
    date: "2025-10-21",
    says: "Hetzner's per-location monthly prices (EUR, excl. VAT) of every orderable type, quoted with the primary IPv4 (\"switching to IPv6-only for €0.50/month savings\")",
    confidence: "secondary",
  },
  launchPriceWithoutIpv4: {
    url: "https://gist.github.com/derhuerst/4ef9a832e031bf82d6e640e2dd6b2d24",
    date: "2025-10-21",
    says: "CPX22 \"no IPv4\" 7.13 €/month incl. 19 % VAT (= 5.99 net = 6.49 listed - 0.50), CPX32 \"no IPv4\" 12.48 (= 10.49 net)",
    confidence: "secondary",
  },
  primaryIpDocs: {
    url: "https://docs.hetzner.com/cloud/servers/primary-ips/overview/",
    date: "2022-08-10",
    says: "We charge € 0.50 / month (excl. VAT) for our Primary IPv4s. Primary IPv6 free.",
    confidence: "primary",
  },
  april2026Adjustment: {
    url: "https://cloudtally.eu/blog/hetzner-cloud-costs-youre-probably-missing",
    date: "2026-04-18",
    says: "Hetzner's April 1, 2026 price adjustment: volumes and snapshots 30 % more expensive; most compute up 30-37 %; applied to existing servers too",
    confidence: "secondary",
  },
  pricingApi20260527: {
    url: "https://github.com/devantler-tech/platform/commit/cb791c6f",
    date: "2026-05-27",
    says: "Hetzner Cloud pricing API (GET /v1/pricing, fsn1, net of VAT): CX33 6.49 €/month (0.0104 €/h), volumes 0.0572 €/GB/month",
    confidence: "secondary",
  },
  cx23After20260401: {
    url: "https://docs.vdhome.be/reference/costs/",
    date: "2026-04-15",
    says: "actual monthly cost: cx33 6.49 €, cx23 3.99 € (primary IPv4 listed separately)",
    confidence: "secondary",
  },
  june2026Notice: {
    url: "https://pastebin.com/GPkzvM77",
    date: "2026-05-28",
    says: "increasing the prices for Cloud Servers effective June 15, 2026. This applies exclusively to new orders and rescales of existing servers ... " +
      "does not apply to ... IPs, storage products, load balancers, volumes, snapshots",
    confidence: "secondary",
  },
  june2026Snapshot: {
    url: "public repository file jobs/dev/vps_cost_estimate.py, FALLBACK_PLANS (the search index does not name its repository)",
    date: "2026-09-08",
    says: "\"Snapshot taken 2026-09-08, post the April/June 2026 CPX/CCX price increases\"; GET /v1/server_types, nbg1, " +
      "\"matches the Germany/Finland region\"; excludes VAT and the ~EUR0.50/mo IPv4 addon",
    confidence: "low",
  },
  backupPercentage: {
    url: "https://metacpan.org/pod/WWW::Hetzner::Cloud::Pricing",
    date: "2026-09-02",
    says: "pricing API field server_backup.percentage: \"backups cost that percentage of the server price\", example 20.0; " +
      "corroborated by https://expert.ftl2.com/public/hetzner-expert/beliefs (\"fixed 20% server cost, max 7 retained\")",
    confidence: "secondary",
  },
} as const satisfies Record<string, Source>;

// ---------------------------------------------------------------------------------------------
// Locations and network zones

export type NetworkZoneName = "eu-central" | "us-east" | "us-west" | "ap-southeast";

export interface Location {
  readonly name: string;
  /** Hetzner's id of the location (stable, used by the API). */
  readonly id: number;
  readonly description: string;
  readonly city: string;
  /** ISO 3166-1 alpha-2. */
  readonly country: string;
  readonly networkZone: NetworkZoneName;
  readonly source: Source;
}

export const LOCATIONS: readonly Location[] = [
  { name: "fsn1", id: 1, description: "Falkenstein DC Park 1", city: "Falkenstein", country: "DE", networkZone: "eu-central", source: SOURCES.cliLocationList },
  { name: "nbg1", id: 2, description: "Nuremberg DC Park 1", city: "Nuremberg", country: "DE", networkZone: "eu-central", source: SOURCES.cliLocationList },
  { name: "hel1", id: 3, description: "Helsinki DC Park 1", city: "Helsinki", country: "FI", networkZone: "eu-central", source: SOURCES.cliLocationList },
  { name: "ash", id: 4, description: "Ashburn, VA", city: "Ashburn, VA", country: "US", networkZone: "us-east", source: SOURCES.cliLocationList },
  { name: "hil", id: 5, description: "Hillsboro, OR", city: "Hillsboro, OR", country: "US", networkZone: "us-west", source: SOURCES.cliLocationList },
  { name: "sin", id: 6, description: "Singapore", city: "Singapore", country: "SG", networkZone: "ap-southeast", source: SOURCES.cliLocationList },
];

export interface NetworkZone {
  readonly name: NetworkZoneName;
  /** A private network's subnet lives in one zone; only servers in these locations can join it. */
  readonly locations: readonly string[];
}

export const NETWORK_ZONES: readonly NetworkZone[] = (["eu-central", "us-east", "us-west", "ap-southeast"] as const).map((name) => ({
  name,
  locations: LOCATIONS.filter((l) => l.networkZone === name).map((l) => l.name),
}));

export function findLocation(name: string): Location | undefined {
  return LOCATIONS.find((l) => l.name === name);
}

// ---------------------------------------------------------------------------------------------
// Server types

export type Family = "cx" | "cpx" | "cax" | "ccx";
export type Line = "cost-optimized" | "regular-performance" | "arm" | "dedicated";
export type Architecture = "x86" | "arm";

export interface Deprecation {
  /** RFC 3339, as the API reports it in server_types[].locations[].deprecation. */
  readonly announced: string;
  /** RFC 3339: after this instant the type can no longer be ordered in the location. */
  readonly unavailableAfter: string;
  readonly source: Source;
}

export interface Offer {
  readonly location: string;
  /** Absent: no deprecation known. "unknown": the type left the price list, the dates are not known. */
  readonly deprecation?: Deprecation | "unknown";
  readonly source: Source;
}

export interface ServerType {
  readonly name: string;
  /** Hetzner's id, where a source gives it. */
  readonly apiId?: number;
  readonly family: Family;
  readonly line: Line;
  readonly architecture: Architecture;
  readonly cpuType: "shared" | "dedicated";
  readonly vcpus: number;
  /** As Hetzner states it; the OS of a "16 GB" server sees about 15 GiB, so size with headroom. */
  readonly memoryGb: number;
  readonly diskGb: number;
  /** First day it could be ordered, where known (the 2025-10 generation). */
  readonly introduced?: string;
  readonly offers: readonly Offer[];
  /** false: the type may be offered in locations this list does not name. */
  readonly offersComplete: boolean;
  readonly source: Source;
}

const EU = ["fsn1", "nbg1", "hel1"] as const;
const US = ["ash", "hil"] as const;
const ALL = [...EU, ...US, "sin"] as const;

// One changelog entry deprecated both generations. The API's instants are verified for cpx11 in
// fsn1; the provider's warning for the cx types names the same last day.
const CPX_GEN1_DEPRECATION: Deprecation = {
  announced: "2025-10-16T06:00:00Z",
  unavailableAfter: "2025-12-31T23:59:59Z",
  source: SOURCES.providerCpx11DeprecationTest,
};
const CX_GEN2_DEPRECATION: Deprecation = { ...CPX_GEN1_DEPRECATION, source: SOURCES.providerDeprecationWarning };

const LINE: Record<Family, Line> = { cx: "cost-optimized", cpx: "regular-performance", cax: "arm", ccx: "dedicated" };

function serverType(
  name: string, family: Family, [vcpus, memoryGb, diskGb]: readonly [number, number, number],
  offers: readonly Offer[], source: Source, extra: Partial<Pick<ServerType, "apiId" | "introduced" | "offersComplete">> = {},
): ServerType {
  return {
    name, family, line: LINE[family],
    architecture: family === "cax" ? "arm" : "x86",
    cpuType: family === "ccx" ? "dedicated" : "shared",
    vcpus, memoryGb, diskGb, offers, source,
    offersComplete: extra.offersComplete ?? true,
    ...(extra.apiId !== undefined ? { apiId: extra.apiId } : {}),
    ...(extra.introduced !== undefined ? { introduced: extra.introduced } : {}),
  };
}

const offered = (locations: readonly string[], source: Source): Offer[] => locations.map((location) => ({ location, source }));
const deprecatedIn = (locations: readonly string[], deprecation: Deprecation | "unknown", source: Source): Offer[] =>
  locations.map((location) => ({ location, deprecation, source }));

const LAUNCH = "2025-10-16";
const launchList = SOURCES.launchPriceList;

export const SERVER_TYPES: readonly ServerType[] = [
  // Cost-Optimized, shared vCPU (Intel/AMD), EU only.
  serverType("cx23", "cx", [2, 4, 40], offered(EU, launchList), launchList, { introduced: LAUNCH }),
  serverType("cx33", "cx", [4, 8, 80], offered(EU, launchList), launchList, { introduced: LAUNCH }),
  serverType("cx43", "cx", [8, 16, 160], offered(EU, launchList), launchList, { introduced: LAUNCH }),
  serverType("cx53", "cx", [16, 32, 320], offered(EU, launchList), launchList, { introduced: LAUNCH }),
  // Arm64 (Ampere), shared vCPU, EU only.
  serverType("cax11", "cax", [2, 4, 40], offered(EU, launchList), launchList),
  serverType("cax21", "cax", [4, 8, 80], offered(EU, launchList), launchList),
  serverType("cax31", "cax", [8, 16, 160], offered(EU, launchList), launchList),
  serverType("cax41", "cax", [16, 32, 320], offered(EU, launchList), launchList),
  // Regular Performance, shared vCPU (AMD), generation 2: EU and Singapore.
  // cpx12 was priced for sin only on 2025-10-21 and is created in hel1 by the provider's tests
  // since 2026-07-16; whether fsn1/nbg1 sell it is not known.
  serverType("cpx12", "cpx", [1, 2, 40], [...offered(["sin"], launchList), ...offered(["hel1"], SOURCES.providerCpx12Default)], launchList,
    { introduced: LAUNCH, offersComplete: false }),
  serverType("cpx22", "cpx", [2, 4, 80], offered([...EU, "sin"], SOURCES.providerServerTypeTest), SOURCES.providerServerTypeTest, { apiId: 109, introduced: LAUNCH }),
  serverType("cpx32", "cpx", [4, 8, 160], offered([...EU, "sin"], launchList), launchList, { introduced: LAUNCH }),
  serverType("cpx42", "cpx", [8, 16, 320], offered([...EU, "sin"], launchList), launchList, { introduced: LAUNCH }),
  serverType("cpx52", "cpx", [12, 24, 480], offered([...EU, "sin"], launchList), launchList, { introduced: LAUNCH }),
  serverType("cpx62", "cpx", [16, 32, 640], offered([...EU, "sin"], launchList), launchList, { introduced: LAUNCH }),
  // Dedicated vCPU (AMD), every location.
  serverType("ccx13", "ccx", [2, 8, 80], offered(ALL, launchList), launchList),
  serverType("ccx23", "ccx", [4, 16, 160], offered(ALL, launchList), launchList),
  serverType("ccx33", "ccx", [8, 32, 240], offered(ALL, launchList), launchList),
  serverType("ccx43", "ccx", [16, 64, 360], offered(ALL, launchList), launchList),
  serverType("ccx53", "ccx", [32, 128, 600], offered(ALL, launchList), launchList),
  serverType("ccx63", "ccx", [48, 192, 960], offered(ALL, launchList), launchList),
  // Deprecated 2025-10-16, unorderable after 2025-12-31 in every (EU) location. Existing servers keep running.
  serverType("cx22", "cx", [2, 4, 40], deprecatedIn(EU, CX_GEN2_DEPRECATION, SOURCES.changelogServerTypesDeprecated), SOURCES.changelogServerTypesDeprecated),
  serverType("cx32", "cx", [4, 8, 80], deprecatedIn(EU, CX_GEN2_DEPRECATION, SOURCES.changelogServerTypesDeprecated), SOURCES.changelogServerTypesDeprecated),
  serverType("cx42", "cx", [8, 16, 160], deprecatedIn(EU, CX_GEN2_DEPRECATION, SOURCES.changelogServerTypesDeprecated), SOURCES.changelogServerTypesDeprecated),
  serverType("cx52", "cx", [16, 32, 320], deprecatedIn(EU, CX_GEN2_DEPRECATION, SOURCES.changelogServerTypesDeprecated), SOURCES.changelogServerTypesDeprecated),
  // Generation 1 CPX: deprecated in the EU; still sold in the US (priced there on 2025-10-21 and
  // still listed, not deprecated as a whole, in 2026-07). Singapore dropped it from the price list
  // without a date any source gives.
  ...([
    ["cpx11", [2, 2, 40], 22],
    ["cpx21", [3, 4, 80], 23],
    ["cpx31", [4, 8, 160], undefined],
    ["cpx41", [8, 16, 240], undefined],
    ["cpx51", [16, 32, 360], undefined],
  ] as const).map(([name, size, apiId]) => serverType(name, "cpx", size, [
    ...deprecatedIn(EU, CPX_GEN1_DEPRECATION, SOURCES.changelogServerTypesDeprecated),
    ...offered(US, launchList),
    ...deprecatedIn(["sin"], "unknown", launchList),
  ], SOURCES.changelogServerTypesDeprecated, apiId === undefined ? {} : { apiId })),
];

export function findServerType(name: string): ServerType | undefined {
  return SERVER_TYPES.find((t) => t.name === name);
}

export type Orderability =
  | { readonly status: "orderable"; readonly source: Source }
  /** Still orderable, but Hetzner announced its end: warn. */
  | { readonly status: "deprecated"; readonly unavailableAfter: string; readonly source: Source }
  /** Cannot be ordered any more: creating a server fails. Existing servers keep running. */
  | { readonly status: "unavailable"; readonly unavailableAfter: string; readonly source: Source }
  /** Hetzner does not sell this type in this location (or did not yet on that day). */
  | { readonly status: "not-offered" }
  | { readonly status: "unknown"; readonly reason: string }
  | { readonly status: "unknown-type" }
  | { readonly status: "unknown-location" };

/** Can a server of this type be ordered in this location on this day (YYYY-MM-DD or RFC 3339)? */
export function orderability(typeName: string, location: string, date: string): Orderability {
  const t = findServerType(typeName);
  if (!t) return { status: "unknown-type" };
  if (!findLocation(location)) return { status: "unknown-location" };
  const day = instant(date);
  if (t.introduced !== undefined && day < instant(t.introduced)) return { status: "not-offered" };
  const offer = t.offers.find((o) => o.location === location);
  if (!offer) {
    return t.offersComplete
      ? { status: "not-offered" }
      : { status: "unknown", reason: `the sources name only ${t.offers.map((o) => o.location).join(", ")} for ${t.name}` };
  }
  if (offer.deprecation === undefined) return { status: "orderable", source: offer.source };
  if (offer.deprecation === "unknown") {
    return { status: "unknown", reason: `${t.name} left Hetzner's ${location} price list on or before ${offer.source.date}; no source gives its dates` };
  }
  const d = offer.deprecation;
  if (day < instant(d.announced)) return { status: "orderable", source: offer.source };
  if (day <= instant(d.unavailableAfter)) return { status: "deprecated", unavailableAfter: d.unavailableAfter, source: d.source };
  return { status: "unavailable", unavailableAfter: d.unavailableAfter, source: d.source };
}

/**
 * Types orderable (and not deprecated) on that day with the same vCPU count and memory as the
 * given type or size, for the hint that names what to use instead. Sorted by name.
 */
export function sameSizeCurrentTypes(
  of: string | { readonly vcpus: number; readonly memoryGb: number },
  location: string | undefined,
  date: string,
): readonly ServerType[] {
  const size = typeof of === "string" ? findServerType(of) : of;
  if (!size) return [];
  return SERVER_TYPES
    .filter((t) => t.vcpus === size.vcpus && t.memoryGb === size.memoryGb)
    .filter((t) => (location === undefined
      ? t.offers.some((o) => orderability(t.name, o.location, date).status === "orderable")
      : orderability(t.name, location, date).status === "orderable"))
    .sort((a, b) => a.name.localeCompare(b.name));
}

// ---------------------------------------------------------------------------------------------
// Prices (EUR, excluding VAT, per month = Hetzner's monthly cap; hourly billing never exceeds it)

export interface ServerPriceList {
  /** First day the list applies to new orders. */
  readonly effective: string;
  /** Which servers it prices: "all" also re-prices servers that already exist. */
  readonly appliesTo: "all" | "new orders and rescales";
  /** true: the figures are quoted with the server's primary IPv4, as Hetzner's web price list shows them. */
  readonly includesPrimaryIpv4: boolean;
  /** type -> location -> cents per month. A missing entry is unknown, not free. */
  readonly cents: Readonly<Record<string, Readonly<Partial<Record<string, number>>>>>;
  readonly source: Source;
}

function perLocation(groups: readonly (readonly [readonly string[], number])[]): Partial<Record<string, number>> {
  const out: Partial<Record<string, number>> = {};
  for (const [locations, cents] of groups) for (const l of locations) out[l] = cents;
  return out;
}

const eu = (cents: number) => [EU, cents] as const;
const us = (cents: number) => [US, cents] as const;
const sin = (cents: number) => [["sin"], cents] as const;

export const SERVER_PRICE_LISTS: readonly ServerPriceList[] = [
  {
    effective: "2025-10-16",
    appliesTo: "all",
    includesPrimaryIpv4: true,
    source: SOURCES.launchPriceList,
    cents: {
      cx23: perLocation([eu(349)]), cx33: perLocation([eu(549)]), cx43: perLocation([eu(949)]), cx53: perLocation([eu(1749)]),
      cax11: perLocation([eu(379)]), cax21: perLocation([eu(649)]), cax31: perLocation([eu(1249)]), cax41: perLocation([eu(2449)]),
      cpx12: perLocation([sin(649)]),
      cpx22: perLocation([eu(649), sin(1249)]), cpx32: perLocation([eu(1099), sin(2549)]), cpx42: perLocation([eu(1999), sin(4349)]),
      cpx52: perLocation([eu(2849), sin(6049)]), cpx62: perLocation([eu(3899), sin(7749)]),
      cpx11: perLocation([us(499)]), cpx21: perLocation([us(949)]), cpx31: perLocation([us(1649)]), cpx41: perLocation([us(3049)]), cpx51: perLocation([us(6049)]),
      ccx13: perLocation([eu(1249), us(1349), sin(2150)]), ccx23: perLocation([eu(2449), us(2649), sin(3990)]),
      ccx33: perLocation([eu(4849), us(5049), sin(7490)]), ccx43: perLocation([eu(9649), us(10049), sin(13750)]),
      ccx53: perLocation([eu(19249), us(20049), sin(29450)]), ccx63: perLocation([eu(28849), us(30049), sin(48250)]),
    },
  },
  {
    // Every server, existing ones included, moved to new prices; the sources give these two figures only.
    effective: "2026-04-01",
    appliesTo: "all",
    includesPrimaryIpv4: false,
    source: SOURCES.pricingApi20260527,
    cents: {
      cx33: perLocation([[["fsn1"], 649]]),
    },
  },
  {
    // New orders and rescales only; existing, unchanged servers keep the 2026-04-01 price.
    effective: "2026-06-15",
    appliesTo: "new orders and rescales",
    includesPrimaryIpv4: false,
    source: SOURCES.june2026Snapshot,
    cents: {
      cx23: perLocation([eu(549)]), cx33: perLocation([eu(849)]), cx43: perLocation([eu(1599)]), cx53: perLocation([eu(2949)]),
      cpx22: perLocation([eu(1949)]), cpx32: perLocation([eu(3549)]), cpx42: perLocation([eu(6949)]),
      cpx52: perLocation([eu(10049)]), cpx62: perLocation([eu(12999)]),
      ccx13: perLocation([eu(4299)]), ccx23: perLocation([eu(8599)]), ccx33: perLocation([eu(13849)]), ccx43: perLocation([eu(27599)]),
    },
  },
];

export type Price =
  | { readonly known: true; readonly eur: number; readonly priceListEffective: string; readonly source: Source }
  | {
    readonly known: false;
    readonly reason: string;
    /** The most recent figure before the gap, so a reader sees the order of magnitude. */
    readonly lastKnown?: { readonly eur: number; readonly priceListEffective: string; readonly source: Source };
  };

export interface DatedPrice {
  readonly from: string;
  /** Last day the figure is known to hold; absent: still holds as of the source. */
  readonly until?: string;
  /** Absent: no source gives a figure for this period. */
  readonly eur?: number;
  readonly source?: Source;
  readonly note?: string;
}

/** Monthly prices the bill needs besides servers, per unit. */
export const OTHER_PRICES = {
  primaryIpv4PerMonth: [
    { from: "2022-08-10", until: "2026-03-31", eur: 0.5, source: SOURCES.primaryIpDocs },
    { from: "2026-04-01", note: "the 2026-06-15 change excludes IPs, but no source says whether the 2026-04-01 change touched them" },
  ],
  floatingIpv4PerMonth: [
    { from: "2022-08-10", note: "no source in reach gives the Floating IPv4 price" },
  ],
  volumePerGbMonth: [
    { from: "2026-04-01", eur: 0.0572, source: SOURCES.pricingApi20260527, note: "the 2026-06-15 change excludes volumes (SOURCES.june2026Notice)" },
  ],
  snapshotPerGbMonth: [
    { from: "2026-04-01", note: "raised by 30 % on 2026-04-01 (SOURCES.april2026Adjustment); no source gives the figure" },
  ],
} as const satisfies Record<string, readonly DatedPrice[]>;

/** Backups cost this percentage of the server's price. */
export const BACKUP_PERCENT_OF_SERVER_PRICE = { percent: 20, source: SOURCES.backupPercentage } as const;

/** The price of one unit of a dated item on a day. */
export function priceOn(item: readonly DatedPrice[], date: string): Price {
  const day = instant(date);
  const known = (p: DatedPrice) => p.eur !== undefined && p.source !== undefined;
  const period = [...item].reverse().find((p) => instant(p.from) <= day);
  if (!period) return { known: false, reason: `no price is known before ${item[0]?.from ?? "any date"}` };
  if (period.eur !== undefined && period.source !== undefined && (period.until === undefined || day <= instant(period.until))) {
    return { known: true, eur: period.eur, priceListEffective: period.from, source: period.source };
  }
  const previous = [...item].reverse().find((p) => instant(p.from) <= day && known(p));
  const reason = period.until !== undefined && day > instant(period.until)
    ? `the last known figure held until ${period.until}`
    : period.note ?? "no source gives the figure";
  return {
    known: false,
    reason,
    ...(previous?.eur !== undefined && previous.source ? { lastKnown: { eur: previous.eur, priceListEffective: previous.from, source: previous.source } } : {}),
  };
}

/**
 * The monthly price (EUR, excl. VAT, without the primary IPv4) of a server of this type ordered in
 * this location on this day. A list that does not price the type makes it unknown: an older
 * figure would understate what Hetzner charges after a price change.
 */
export function monthlyServerPrice(typeName: string, location: string, date: string): Price {
  const day = instant(date);
  const lists = SERVER_PRICE_LISTS.filter((l) => instant(l.effective) <= day);
  const current = lists[lists.length - 1];
  if (!current) return { known: false, reason: `no price list is known before ${SERVER_PRICE_LISTS[0].effective}` };
  const cents = serverCents(current, typeName, location);
  if (cents !== undefined) return { known: true, eur: cents / 100, priceListEffective: current.effective, source: current.source };
  const older = [...lists].reverse().find((l) => serverCents(l, typeName, location) !== undefined);
  const olderCents = older && serverCents(older, typeName, location);
  return {
    known: false,
    reason: `the price list effective ${current.effective} (${current.source.url}) gives no figure for ${typeName} in ${location}`,
    ...(older && olderCents !== undefined ? { lastKnown: { eur: olderCents / 100, priceListEffective: older.effective, source: older.source } } : {}),
  };
}

/** Cents per month without the primary IPv4, or undefined when the list (or the IPv4 price it includes) is silent. */
function serverCents(list: ServerPriceList, typeName: string, location: string): number | undefined {
  const listed = list.cents[typeName]?.[location];
  if (listed === undefined || !list.includesPrimaryIpv4) return listed;
  const ipv4 = priceOn(OTHER_PRICES.primaryIpv4PerMonth, list.effective);
  return ipv4.known ? listed - Math.round(ipv4.eur * 100) : undefined;
}

function instant(date: string): number {
  const t = Date.parse(date);
  if (Number.isNaN(t)) throw new Error(`not a date: "${date}" (expected YYYY-MM-DD or an RFC 3339 time)`);
  return t;
}
