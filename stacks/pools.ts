import { ValueError } from "./errors";
import { asArray } from "./schema";
import { LOCATIONS } from "./hetzner-catalogue";

export type SwarmRole = "manager" | "worker";

/** A group of identical nodes. Node names are `<namePrefix>-<name>-NN`. */
export interface NodePool {
  readonly name: string;
  readonly role: SwarmRole;
  readonly count: number;
  readonly serverType: string;
  /** Nodes are placed round-robin over these locations, in order. */
  readonly locations: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  /** Host offset in the subnet of this pool's first node; node N gets ipOffset + N - 1. */
  readonly ipOffset: number;
}

/** Node names are host names derived from the pool alone, so adding a pool or a node never renames another. */
export function nodeName(prefix: string, pool: Pick<NodePool, "name">, number: number): string {
  return `${prefix}-${pool.name}-${String(number).padStart(2, "0")}`;
}

/** Hetzner Cloud locations and the network zone each belongs to (from the dated catalogue). */
export const HETZNER_LOCATIONS: Readonly<Record<string, string>> = Object.fromEntries(LOCATIONS.map((l) => [l.name, l.networkZone]));

/** Shared vCPU (cx, cpx, cax) and dedicated vCPU (ccx) server type names, e.g. cx23, cpx22, cax11, ccx13. */
export const SERVER_TYPE_PATTERN = /^(cx|cpx|cax|ccx)[1-9]\d{1,2}$/;

/** A datacenter name such as fsn1-dc14: the API takes locations only since 2026. */
const DATACENTER = /^([a-z]+\d*)-dc\d+$/;

const POOL_NAME = /^[a-z][a-z0-9]{0,9}$/;
const LABEL_KEY = /^[a-z][a-z0-9._-]{0,62}$/;
const LABEL_VALUE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export const POOL_FORM =
  'a pool such as "app role=worker count=3 type=cx33 locations=fsn1,nbg1 labels=type:service ipOffset=20" ' +
  "(name, then role=manager|worker, count=1-99, type=<server type>, locations=<l>[,<l>], optional labels=<k>:<v>[,<k>:<v>], optional ipOffset=<n>)";

/** Default host offset of the i-th pool when the pool does not set one: pools get blocks of 20 from .10. */
export function defaultIpOffset(index: number): number {
  return 10 + 20 * index;
}

/** Parses one pool line. Throws ValueError naming the field that is wrong. */
export function parsePool(value: unknown, index: number): NodePool {
  if (typeof value !== "string") throw new ValueError(POOL_FORM, value);
  const [name, ...fields] = value.trim().split(/\s+/);
  if (!name || !POOL_NAME.test(name)) {
    throw new ValueError("a pool name of 1-10 lowercase letters and digits, starting with a letter, first in the line", value);
  }
  const seen = new Map<string, string>();
  for (const field of fields) {
    const eq = field.indexOf("=");
    const k = eq > 0 ? field.slice(0, eq) : field;
    if (eq <= 0 || !["role", "count", "type", "locations", "labels", "ipOffset"].includes(k)) {
      throw new ValueError(`fields role=, count=, type=, locations=, labels=, ipOffset= (${POOL_FORM})`, field, `[${index}]`);
    }
    if (seen.has(k)) throw new ValueError(`each field once in a pool`, field, `[${index}].${k}`);
    seen.set(k, field.slice(eq + 1));
  }
  const need = (k: string): string => {
    const v = seen.get(k);
    if (v === undefined) throw new ValueError(`${k}= in the pool (${POOL_FORM})`, value, `[${index}].${k}`);
    return v;
  };
  const role = need("role");
  if (role !== "manager" && role !== "worker") throw new ValueError("role=manager or role=worker", role, `[${index}].role`);
  const countText = need("count");
  if (!/^\d+$/.test(countText) || Number(countText) < 1 || Number(countText) > 99) {
    throw new ValueError("count= an integer from 1 to 99", countText, `[${index}].count`);
  }
  const serverType = need("type");
  if (!SERVER_TYPE_PATTERN.test(serverType)) {
    throw new ValueError("a Hetzner server type such as cx23, cpx22, cax11 or ccx13", serverType, `[${index}].type`);
  }
  const locations = need("locations").split(",");
  for (const loc of locations) {
    const dc = DATACENTER.exec(loc);
    if (dc && dc[1] in HETZNER_LOCATIONS) {
      throw new ValueError(`a location, not a datacenter name (Hetzner's API takes locations only): use ${dc[1]}`, loc, `[${index}].locations`);
    }
    if (!(loc in HETZNER_LOCATIONS)) {
      throw new ValueError(`Hetzner locations from ${Object.keys(HETZNER_LOCATIONS).join(", ")}`, loc, `[${index}].locations`);
    }
  }
  if (new Set(locations).size !== locations.length) throw new ValueError("each location once", seen.get("locations"), `[${index}].locations`);
  const labels: Record<string, string> = {};
  const labelText = seen.get("labels");
  if (labelText !== undefined) {
    for (const pair of labelText.split(",")) {
      const colon = pair.indexOf(":");
      const k = pair.slice(0, colon);
      const v = pair.slice(colon + 1);
      if (colon <= 0 || !LABEL_KEY.test(k) || !LABEL_VALUE.test(v)) {
        throw new ValueError("labels as key:value pairs separated by commas, e.g. type:service,zone:a", pair, `[${index}].labels`);
      }
      if (k in labels) throw new ValueError("each label key once", pair, `[${index}].labels`);
      labels[k] = v;
    }
  }
  const offsetText = seen.get("ipOffset");
  let ipOffset = defaultIpOffset(index);
  if (offsetText !== undefined) {
    if (!/^\d+$/.test(offsetText) || Number(offsetText) < 2) {
      throw new ValueError("ipOffset= an integer of 2 or more (host .1 is the Hetzner gateway)", offsetText, `[${index}].ipOffset`);
    }
    ipOffset = Number(offsetText);
  }
  return Object.freeze({
    name,
    role,
    count: Number(countText),
    serverType,
    locations: Object.freeze(locations),
    labels: Object.freeze(labels),
    ipOffset,
  });
}

export function parsePools(value: unknown): NodePool[] {
  const items = asArray(value, `a list of pools, each ${POOL_FORM}`);
  if (items.length === 0) throw new ValueError(`at least one pool, each ${POOL_FORM}`, value);
  return items.map((item, i) => {
    try {
      return parsePool(item, i);
    } catch (e) {
      if (e instanceof ValueError && e.subKey === undefined) throw new ValueError(e.expected, e.given, `[${i}]`);
      throw e;
    }
  });
}

/** The canonical text of a pool: what the stack files hold. */
export function formatPool(p: NodePool): string {
  const labels = Object.entries(p.labels).map(([k, v]) => `${k}:${v}`).join(",");
  return [
    p.name,
    `role=${p.role}`,
    `count=${p.count}`,
    `type=${p.serverType}`,
    `locations=${p.locations.join(",")}`,
    ...(labels ? [`labels=${labels}`] : []),
    `ipOffset=${p.ipOffset}`,
  ].join(" ");
}
