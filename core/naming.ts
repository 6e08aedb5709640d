/**
 * Every name and label the platform's objects carry, decided once for both
 * renderers (Pulumi and the docker stack file) and for the Hetzner resources.
 */
import { createHmac } from "node:crypto";
import { contentHash } from "../lib/hash";

/** Swarm object name under the stack's prefix: networks, volumes, secret and config name stems. */
export function swarmObjectName(prefix: string, key: string): string {
  return `${prefix}_${key}`;
}

/** Swarm service name: what `docker stack deploy` under the prefix would name it. */
export function swarmServiceName(prefix: string, service: { readonly name: string }): string {
  return swarmObjectName(prefix, service.name);
}

/** Network aliases: the short service name (as stack deploy adds it) plus the spec's own. */
export function serviceAliases(service: { readonly name: string }, aliases: readonly string[]): string[] {
  return [...new Set([service.name, ...aliases])];
}

/** Labels on every Swarm service, network and volume, so `docker ... ls --filter label=...` finds the platform. */
export function swarmLabels(stack: string, component: string): Record<string, string> {
  return { "swarm-platform.stack": stack, "swarm-platform.component": component };
}

export function secretLabels(stack: string, key: string): Record<string, string> {
  return { "swarm-platform.stack": stack, "swarm-platform.secret": key };
}

export function configLabels(stack: string, key: string): Record<string, string> {
  return { "swarm-platform.stack": stack, "swarm-platform.config": key };
}

/** Labels on every Hetzner resource, so a project is easy to find and filter. */
export function resourceLabels(stack: string, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return { "managed-by": "pulumi", project: "swarm-platform", stack, ...extra };
}

/** What a secret's name is derived from: its name stem and where its value comes from. */
export interface NamedSecret {
  readonly namePrefix: string;
  readonly source: { readonly kind: "random" | "setting" };
}

/**
 * A value from a setting may be weak (a short webhook token): its name is an HMAC
 * under a secret salt, so the name can be shown in plain text. A random value's own
 * hash gives nothing away.
 */
export function secretNameNeedsSalt(secret: NamedSecret): boolean {
  return secret.source.kind === "setting";
}

/**
 * `<namePrefix>_<hash>`: a new value gives a new name, so services roll to it
 * (Swarm secrets are immutable). Without a value (a stack file whose secrets the
 * operator provides) the stem alone, which must then never change.
 */
export function secretObjectName(secret: NamedSecret, value: string | undefined, salt?: string): string {
  if (value === undefined) return secret.namePrefix;
  if (salt !== undefined && secretNameNeedsSalt(secret)) {
    return `${secret.namePrefix}_${createHmac("sha256", salt).update(value).digest("hex").slice(0, 10)}`;
  }
  return `${secret.namePrefix}_${contentHash(value)}`;
}
