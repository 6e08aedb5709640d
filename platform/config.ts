/**
 * The validated configuration of a stack: the core settings and every family's
 * settings from the registry. The node topology is built here, once, and handed
 * to each family's validation.
 */
import { ConfigError, type ConfigProblem } from "../stacks/errors";
import type { SettingDef } from "../stacks/schema";
import { buildCore, parseSettings, PROJECT, stackConfig, type LoadOptions, type StackConfig } from "../stacks/config";
import { CORE_SETTINGS } from "../stacks/settings/core";
import { coreWarnings, validateCore, validatePoolCatalogue } from "../stacks/validate";
import { buildTopology } from "../core/topology";
import type { Family, SettingsContext } from "../families/kit/family";
import { FAMILIES } from "./registry";

/** Every setting of the project, in documentation order: the core, then each family in registry order. */
export const ALL_SETTINGS: readonly SettingDef[] = [...CORE_SETTINGS, ...FAMILIES.flatMap((f) => f.area.settings)];

/**
 * Turns raw config (as `pulumi.runtime.allConfig()` gives it, or a stack file read
 * offline) into a StackConfig. Throws ConfigError listing every problem: the per-key
 * ones together with the cross-setting ones of every part whose own keys parsed.
 */
export function loadStackConfig(stack: string, raw: Readonly<Record<string, unknown>>, opts: LoadOptions = {}, families: readonly Family[] = FAMILIES): StackConfig {
  const settings = families === FAMILIES ? ALL_SETTINGS : [...CORE_SETTINGS, ...families.flatMap((f) => f.area.settings)];
  const { namespace, profile, values, problems: parseProblems, failed } = parseSettings(stack, raw, settings, opts);
  const problems: ConfigProblem[] = [...parseProblems];
  const parsed = (defs: readonly SettingDef[]): boolean => defs.every((d) => !failed.has(d.key));
  if (!profile || !parsed(CORE_SETTINGS)) throw new ConfigError(namespace, problems);

  const core = buildCore(stack, profile, values);
  const coreProblems = validateCore(core);
  const catalogue = validatePoolCatalogue(core, opts.date ?? new Date().toISOString().slice(0, 10));
  problems.push(...coreProblems, ...catalogue.problems);
  // Family rules read the topology, which needs a valid core.
  if (coreProblems.length > 0) throw new ConfigError(namespace, problems);

  const context: SettingsContext = { core, topology: buildTopology(core) };
  const sections: Record<string, unknown> = {};
  for (const { area } of families) {
    if (!parsed(area.settings)) continue;
    const section = area.build(values, context);
    problems.push(...(area.validate?.(section, context) ?? []));
    sections[area.name] = section;
  }
  if (problems.length > 0) throw new ConfigError(namespace, problems);
  const secretSettings = Object.fromEntries(settings.filter((d) => d.secret).map((d) => [d.key, values.get(d.key) as string]));
  return stackConfig(core, sections, secretSettings, [...catalogue.warnings, ...coreWarnings(core)]);
}

/**
 * Stand-ins for the secret settings an offline plan cannot decrypt (a throwaway
 * deploy key, a dummy certificate, ...): each secret setting's own `standIn`.
 * Only the plan and the tests use them.
 */
export function offlineSecrets(config: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const def of ALL_SETTINGS) {
    const key = `${PROJECT}:${def.key}`;
    if (!def.secret || key in config || !def.standIn) continue;
    out[key] = def.standIn();
  }
  return out;
}
