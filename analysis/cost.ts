/**
 * The monthly bill of what a plan declares, from the dated Hetzner catalogue
 * (stacks/hetzner-catalogue.ts): per node (server, its primary IPv4, backups), per pool, and
 * the rest (floating IPs, volumes). Reads the hcloud resources as the program registers them,
 * so the bill follows the inputs Hetzner would receive. A figure no source gives is "unknown",
 * never a guess; the known part is summed beside it.
 */
import {
  BACKUP_PERCENT_OF_SERVER_PRICE,
  CATALOGUE_AS_OF,
  OTHER_PRICES,
  monthlyServerPrice,
  priceOn,
  type Price,
} from "../stacks/hetzner-catalogue";

export type Amount = number | "unknown";

export interface CostLine {
  readonly item: string;
  readonly monthly: Amount;
  /** Why a figure is unknown, or which price list it comes from. */
  readonly basis: string;
}

export interface NodeCost {
  readonly node: string;
  readonly pool: string;
  readonly serverType: string;
  readonly location: string;
  readonly monthly: Amount;
  readonly lines: CostLine[];
}

export interface PlanCost {
  readonly currency: "EUR";
  /** Prices as the catalogue knows them on this day (its newest fact). */
  readonly asOf: string;
  readonly vat: "excluded";
  /** The whole bill; "unknown" when any part is. */
  readonly monthly: Amount;
  /** The sum of the parts that are priced. */
  readonly knownMonthly: number;
  readonly perNode: NodeCost[];
  readonly perPool: { pool: string; nodes: number; monthly: Amount }[];
  /** Items that belong to no node: floating IPs, volumes. */
  readonly other: CostLine[];
  /** Every unpriced item with its reason. */
  readonly unknown: string[];
}

/** What the bill reads of a registered resource. */
export interface CostResource {
  readonly type: string;
  readonly name: string;
  readonly inputs: Readonly<Record<string, unknown>>;
}

const SERVER = "hcloud:index/server:Server";
const FLOATING_IP = "hcloud:index/floatingIp:FloatingIp";
const VOLUME = "hcloud:index/volume:Volume";

function line(item: string, price: Price, times = 1): CostLine {
  if (price.known) return { item, monthly: round(price.eur * times), basis: `price list effective ${price.priceListEffective} (${price.source.url})` };
  const last = price.lastKnown ? `; last known ${price.lastKnown.eur.toFixed(2)} EUR from ${price.lastKnown.priceListEffective}` : "";
  return { item, monthly: "unknown", basis: `${price.reason}${last}` };
}

function sum(amounts: readonly Amount[]): Amount {
  return amounts.some((a) => a === "unknown") ? "unknown" : round((amounts as number[]).reduce((a, b) => a + b, 0));
}

function round(eur: number): number {
  return Math.round(eur * 100) / 100;
}

/**
 * The bill of a plan's resources on `date` (default: the catalogue's own date). `nodes` gives each
 * server's pool (by its `name` input, the node name) and the order of the rows.
 */
export function planCost(resources: readonly CostResource[], nodes: readonly { name: string; pool: string }[], date: string = CATALOGUE_AS_OF): PlanCost {
  const order = new Map(nodes.map((n, i) => [n.name, i]));
  const poolOf = (node: string): string => nodes.find((n) => n.name === node)?.pool ?? "(no pool)";
  const perNode: NodeCost[] = resources.filter((r) => r.type === SERVER).map((r) => {
    const node = String(r.inputs.name);
    const serverType = String(r.inputs.serverType);
    const location = String(r.inputs.location);
    const server = monthlyServerPrice(serverType, location, date);
    const lines = [line(`server ${serverType} in ${location}`, server)];
    const nets = Array.isArray(r.inputs.publicNets) ? (r.inputs.publicNets as Record<string, unknown>[]) : [];
    // Without publicNets Hetzner gives a server a primary IPv4 (and IPv6, free).
    if (nets.length === 0 || nets.some((n) => n.ipv4Enabled !== false)) lines.push(line("primary IPv4", priceOn(OTHER_PRICES.primaryIpv4PerMonth, date)));
    if (r.inputs.backups === true) {
      const pct = BACKUP_PERCENT_OF_SERVER_PRICE.percent;
      lines.push(server.known
        ? { item: `backups (${pct} % of the server)`, monthly: round(server.eur * pct / 100), basis: BACKUP_PERCENT_OF_SERVER_PRICE.source.url }
        : { item: `backups (${pct} % of the server)`, monthly: "unknown", basis: "the server's price is unknown" });
    }
    return { node, pool: poolOf(node), serverType, location, monthly: sum(lines.map((l) => l.monthly)), lines };
  }).sort((a, b) => (order.get(a.node) ?? Infinity) - (order.get(b.node) ?? Infinity) || (a.node < b.node ? -1 : 1));

  const other: CostLine[] = [];
  for (const r of resources) {
    if (r.type === FLOATING_IP) {
      other.push(r.inputs.type === "ipv4" || r.inputs.type === undefined
        ? line(`floating IPv4 ${r.name}`, priceOn(OTHER_PRICES.floatingIpv4PerMonth, date))
        : { item: `floating ${String(r.inputs.type)} ${r.name}`, monthly: "unknown", basis: "the catalogue prices floating IPv4 only" });
    } else if (r.type === VOLUME) {
      const size = Number(r.inputs.size);
      other.push(line(`volume ${r.name} (${size} GB)`, priceOn(OTHER_PRICES.volumePerGbMonth, date), size));
    }
  }

  const pools = [...new Set(perNode.map((n) => n.pool))];
  const perPool = pools.map((pool) => {
    const nodes = perNode.filter((n) => n.pool === pool);
    return { pool, nodes: nodes.length, monthly: sum(nodes.map((n) => n.monthly)) };
  });
  const all = [...perNode.flatMap((n) => n.lines.map((l) => ({ ...l, item: `${n.node}: ${l.item}` }))), ...other];
  const unknown = [...new Set(all.filter((l) => l.monthly === "unknown").map((l) => `${l.item.replace(/^[^:]+: /, "")}: ${l.basis}`))];
  return {
    currency: "EUR",
    asOf: date,
    vat: "excluded",
    monthly: sum(all.map((l) => l.monthly)),
    knownMonthly: round(all.reduce((a, l) => a + (l.monthly === "unknown" ? 0 : l.monthly), 0)),
    perNode,
    perPool,
    other,
    unknown,
  };
}
