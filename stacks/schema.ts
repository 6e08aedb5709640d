import { ValueError } from "./errors";
import { parseCidr } from "../lib/net";

export const PROFILES = ["test", "prod"] as const;
export type Profile = (typeof PROFILES)[number];

/** The Pulumi.yaml config types a project may declare (objects are not among them). */
export type PulumiConfigType = "string" | "integer" | "boolean" | "array";

interface PerProfile<T> {
  readonly kind: "perProfile";
  readonly test: T;
  readonly prod: T;
}

/** A default that differs between the test and prod environment profiles. */
export function perProfile<T>(values: { test: T; prod: T }): PerProfile<T> {
  return { kind: "perProfile", ...values };
}

export type Parser<T> = (value: unknown) => T;

export interface SettingDef<T = unknown> {
  readonly key: string;
  readonly type: PulumiConfigType;
  readonly description: string;
  /** Human-readable form of an accepted value, used in errors and docs/settings.md. */
  readonly expected: string;
  readonly parse: Parser<T>;
  /** Absent: the setting is required. */
  readonly default?: T | PerProfile<T>;
  /** Secret settings must be set with `pulumi config set --secret` and never appear in stack files. */
  readonly secret?: boolean;
  /** Documentation group (docs/settings.md). */
  readonly group: string;
  /**
   * For secret settings: a valid-looking value the offline plan and the tests use
   * when the real secret cannot be read (never used by `pulumi up`).
   */
  readonly standIn?: () => string;
}

export function isPerProfile<T>(d: T | PerProfile<T>): d is PerProfile<T> {
  return typeof d === "object" && d !== null && (d as PerProfile<T>).kind === "perProfile";
}

export function defaultFor<T>(def: SettingDef<T>, profile: Profile): T | undefined {
  if (def.default === undefined) return undefined;
  return isPerProfile(def.default) ? def.default[profile] : def.default;
}

/**
 * The default Pulumi.yaml declares for a setting whose default comes from the profile. The
 * Pulumi CLI reports a declared setting without a default that a stack leaves out as "missing
 * configuration" before the program runs, so such a setting gets this stand-in default there
 * and the program resolves it to the profile's value. Settings whose type is not `string` are
 * declared without `type:`, because the CLI checks a typed default against its type.
 */
export const PROFILE_DEFAULT = "(profile)";

/** True when the default is the same for every profile (so Pulumi.yaml can declare it). */
export function hasProfileIndependentDefault(def: SettingDef): boolean {
  return def.default !== undefined && !isPerProfile(def.default);
}

// ---- parsers: every one accepts the value as it arrives from Pulumi config
// (strings for scalars, JSON text for arrays) or as a plain YAML value.

export function str(opts: { pattern?: RegExp; expected: string; allowEmpty?: boolean }): Parser<string> {
  return (value) => {
    if (typeof value !== "string") throw new ValueError(opts.expected, value);
    if (value === "" && opts.allowEmpty) return value;
    if (value === "" || (opts.pattern && !opts.pattern.test(value))) throw new ValueError(opts.expected, value);
    return value;
  };
}

export function oneOf<T extends string>(choices: readonly T[]): Parser<T> {
  const expected = `one of ${choices.map((c) => JSON.stringify(c)).join(", ")}`;
  return (value) => {
    if (typeof value !== "string" || !(choices as readonly string[]).includes(value)) throw new ValueError(expected, value);
    return value as T;
  };
}

export function int(min: number, max: number): Parser<number> {
  const expected = `an integer from ${min} to ${max}`;
  return (value) => {
    let n: number;
    if (typeof value === "number") n = value;
    else if (typeof value === "string" && /^-?\d+$/.test(value.trim())) n = Number(value.trim());
    else throw new ValueError(expected, value);
    if (!Number.isInteger(n) || n < min || n > max) throw new ValueError(expected, value);
    return n;
  };
}

export const bool: Parser<boolean> = (value) => {
  if (value === true || value === "true") return true;
  if (value === false || value === "false") return false;
  throw new ValueError("true or false", value);
};

/** Arrays arrive from the Pulumi CLI as JSON text. */
export function asArray(value: unknown, expected: string): unknown[] {
  let v = value;
  if (typeof v === "string") {
    try {
      v = JSON.parse(v);
    } catch {
      throw new ValueError(expected, value);
    }
  }
  if (!Array.isArray(v)) throw new ValueError(expected, value);
  return v;
}

export function list<T>(item: Parser<T>, opts: { expected: string; min?: number; max?: number }): Parser<T[]> {
  return (value) => {
    const items = asArray(value, opts.expected);
    if (opts.min !== undefined && items.length < opts.min) throw new ValueError(opts.expected, value);
    if (opts.max !== undefined && items.length > opts.max) throw new ValueError(opts.expected, value);
    return items.map((it, i) => {
      try {
        return item(it);
      } catch (e) {
        if (e instanceof ValueError) throw new ValueError(e.expected, e.given, `[${i}]${e.subKey ?? ""}`);
        throw e;
      }
    });
  };
}

/** For an IPv4 CIDR with host bits set (10.20.0.1/16), the network it means (10.20.0.0/16). */
export function ipv4NetworkOf(value: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return undefined;
  const address = octets.reduce((a, o) => a * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  const network = Math.floor(address / size) * size;
  if (network === address) return undefined;
  return `${[24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256).join(".")}/${prefix}`;
}

function hostBitsNote(value: unknown): string {
  const network = typeof value === "string" ? ipv4NetworkOf(value) : undefined;
  return network ? `; ${value as string} has host bits set: the network is ${network}` : "";
}

export const cidr: Parser<string> = (value) => {
  if (typeof value !== "string" || parseCidr(value) === undefined) {
    throw new ValueError(`an IPv4 or IPv6 CIDR such as 10.0.0.0/16 or 2001:db8::/32${hostBitsNote(value)}`, value);
  }
  return value;
};

export const ipv4Cidr: Parser<string> = (value) => {
  const c = typeof value === "string" ? parseCidr(value) : undefined;
  if (!c || c.family !== 4) throw new ValueError(`an IPv4 CIDR such as 10.0.0.0/16${hostBitsNote(value)}`, value);
  return value as string;
};

/** Megabytes or gigabytes as Docker and Redis write them: 256m, 1g. */
export const size: Parser<string> = str({ pattern: /^[1-9]\d*[mg]$/, expected: "a size such as 256m or 2g" });

/** Docker duration strings: 30s, 5m, 1h30m. */
export const duration: Parser<string> = str({
  pattern: /^(\d+h)?(\d+m)?(\d+s)?$/,
  expected: "a duration such as 30s, 5m or 1h30m",
});

/** Image references with an explicit, pinned tag (never latest). */
export const pinnedImage: Parser<string> = (value) => {
  const expected = "an image reference with a pinned tag, e.g. redis:7.4.2 (not latest, not untagged)";
  if (typeof value !== "string") throw new ValueError(expected, value);
  const m = /^([a-z0-9]+(?:[._\/-][a-z0-9]+)*(?::\d+)?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})(@sha256:[a-f0-9]{64})?$/.exec(value);
  if (!m || m[2] === "latest") throw new ValueError(expected, value);
  return value;
};
