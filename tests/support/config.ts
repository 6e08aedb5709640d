import { readStackFile } from "../../stacks/stack-file";
import { PROJECT, type StackConfig } from "../../stacks/config";
import { loadStackConfig, offlineSecrets } from "../../platform/config";
import { buildPlatform, familyContext, type Platform } from "../../platform/assemble";
import type { FamilyArea, FamilyContext } from "../../families/kit/family";
import { fixedDeployKey } from "../../tools/plan-fingerprint";
import { join } from "node:path";
import assert from "node:assert/strict";
import { ConfigError } from "../../stacks/errors";
import { buildTopology, type Topology } from "../../core/topology";
import type { PlatformSpec, ServiceSpec } from "../../core/model";

export const ROOT = join(__dirname, "..", "..");

/** The deploy key of tests and offline plans: the same on every run. */
export const TEST_PRIVATE_KEY = fixedDeployKey();

/** The raw config of a committed stack file, with test stand-ins for secrets. */
export function stackFileConfig(stack: "test" | "prod"): Record<string, string> {
  const file = readStackFile(ROOT, stack);
  return { ...file.config, ...offlineSecrets(file.config), [`${PROJECT}:sshPrivateKey`]: TEST_PRIVATE_KEY };
}

/** Raw config with overrides; a value of undefined removes the key. */
export function withOverrides(stack: "test" | "prod", overrides: Record<string, unknown>): Record<string, string> {
  const raw: Record<string, string> = stackFileConfig(stack);
  for (const [k, v] of Object.entries(overrides)) {
    const key = k.includes(":") ? k : `${PROJECT}:${k}`;
    if (v === undefined) delete raw[key];
    else raw[key] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return raw;
}

export function loadStack(stack: "test" | "prod", overrides: Record<string, unknown> = {}): StackConfig {
  return loadStackConfig(stack, withOverrides(stack, overrides));
}

/** The ConfigError a call throws (fails the test when it throws none). */
export function problemsOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  assert.fail("expected a ConfigError");
}

/** A stack's config, topology and platform spec, with lookups that fail loudly. */
export function platformOf(stack: "test" | "prod", overrides: Record<string, unknown> = {}): {
  config: StackConfig;
  topology: Topology;
  platform: PlatformSpec;
  /** The spec and the parts it was assembled from. */
  assembled: Platform;
  /** What a family's builder reads, for testing one family's functions. */
  contextOf<S>(family: { readonly area: FamilyArea<S> }): FamilyContext<S>;
  service(name: string): ServiceSpec;
  configContent(key: string): string;
} {
  const config = loadStack(stack, overrides);
  const topology = buildTopology(config);
  const assembled = buildPlatform(config, topology);
  const platform = assembled.spec;
  return {
    config,
    topology,
    platform,
    assembled,
    contextOf: (family) => familyContext(config, topology, family),
    service(name) {
      const s = platform.services.find((x) => x.name === name);
      if (!s) throw new Error(`no service ${name}`);
      return s;
    },
    configContent(key) {
      const c = platform.configs.find((x) => x.key === key);
      if (!c) throw new Error(`no config ${key}`);
      return c.content;
    },
  };
}
