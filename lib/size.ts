export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** Parses Docker/Redis style sizes: 256m, 2g. */
export function sizeToBytes(size: string): number {
  const m = /^(\d+)([kmg])$/.exec(size);
  if (!m) throw new Error(`not a size: ${size}`);
  return Number(m[1]) * { k: 1024, m: MiB, g: GiB }[m[2] as "k" | "m" | "g"];
}
