/**
 * The stack outputs the parts contribute, in registry order: plain values known at
 * plan time, and secret outputs as recipes over the parts' secret values (the Pulumi
 * renderer joins the values in as secret Outputs).
 */
import type { SecretOutput } from "../families/kit/family";
import type { Platform } from "./assemble";

export interface StackOutputs {
  readonly plain: Readonly<Record<string, unknown>>;
  readonly secret: Readonly<Record<string, SecretOutput>>;
}

export function partOutputs(platform: Pick<Platform, "parts">): StackOutputs {
  const plain: Record<string, unknown> = {};
  const secret: Record<string, SecretOutput> = {};
  for (const part of platform.parts) {
    for (const [name, value] of Object.entries(part.outputs?.plain ?? {})) {
      if (name in plain || name in secret) throw new Error(`stack output ${name} is declared twice (again by ${part.family})`);
      plain[name] = value;
    }
    for (const [name, value] of Object.entries(part.outputs?.secret ?? {})) {
      if (name in plain || name in secret) throw new Error(`stack output ${name} is declared twice (again by ${part.family})`);
      secret[name] = value;
    }
  }
  return { plain, secret };
}

/** Plan warnings of every part, in registry order. */
export function partWarnings(platform: Pick<Platform, "parts">): string[] {
  return platform.parts.flatMap((p) => p.warnings ?? []);
}
