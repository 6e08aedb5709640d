/** Plain CIDR arithmetic: no dependencies, bigint so IPv6 works too. */
export interface Cidr {
  readonly family: 4 | 6;
  readonly network: bigint;
  readonly prefix: number;
  readonly text: string;
}

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0n;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    n = (n << 8n) | BigInt(p);
  }
  return n;
}

function parseIpv6(text: string): bigint | undefined {
  if (!/^[0-9a-fA-F:]+$/.test(text) || text.split("::").length > 2) return undefined;
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  if (fill < 0 || (tail === undefined && h.length !== 8)) return undefined;
  const groups = [...h, ...Array<string>(fill).fill("0"), ...t];
  let n = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  return n;
}

export function parseCidr(text: string): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const prefix = Number(m[2]);
  const v4 = parseIpv4(m[1]);
  if (v4 !== undefined) {
    if (prefix > 32) return undefined;
    if (v4 & hostMask(4, prefix)) return undefined;
    return { family: 4, network: v4, prefix, text };
  }
  const v6 = parseIpv6(m[1]);
  if (v6 === undefined || prefix > 128) return undefined;
  if (v6 & hostMask(6, prefix)) return undefined;
  return { family: 6, network: v6, prefix, text };
}

function bits(family: 4 | 6): bigint {
  return family === 4 ? 32n : 128n;
}

function hostMask(family: 4 | 6, prefix: number): bigint {
  return (1n << (bits(family) - BigInt(prefix))) - 1n;
}

export function cidrSize(c: Cidr): bigint {
  return 1n << (bits(c.family) - BigInt(c.prefix));
}

export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || inner.prefix < outer.prefix) return false;
  return (inner.network & ~hostMask(outer.family, outer.prefix)) === outer.network;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b) || cidrContains(b, a);
}

export function formatIpv4(n: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => ((n >> s) & 255n).toString()).join(".");
}

/** The address `offset` hosts into an IPv4 CIDR (offset 1 = first address after the network address). */
export function ipv4At(c: Cidr, offset: number): string {
  if (c.family !== 4) throw new Error(`${c.text} is not an IPv4 CIDR`);
  if (offset < 0 || BigInt(offset) >= cidrSize(c)) throw new Error(`offset ${offset} is outside ${c.text}`);
  return formatIpv4(c.network + BigInt(offset));
}

export function mustParseCidr(text: string): Cidr {
  const c = parseCidr(text);
  if (!c) throw new Error(`not a CIDR: ${text}`);
  return c;
}

export const ANYWHERE_CIDRS: readonly string[] = ["0.0.0.0/0", "::/0"];
