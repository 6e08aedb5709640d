import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../stacks/errors";
import { PROJECT, type StackConfig } from "../stacks/config";
import { loadStackConfig } from "./config";

// Internal to @pulumi/pulumi (runtime/config.js), stable for years: reads PULUMI_CONFIG_SECRET_KEYS,
// the keys the CLI decrypted from `secure:` values.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(key: string): boolean };

/**
 * The stack's configuration as the Pulumi CLI (or the mocks) hands it over,
 * validated. A bad value stops the program with a message naming the key,
 * before any resource is declared; so does a secret setting (or `hcloud:token`)
 * that the stack file holds in plain text.
 */
export function readPulumiConfig(): StackConfig {
  const project = pulumi.getProject();
  if (project !== PROJECT) {
    throw new pulumi.RunError(`this program belongs to project ${PROJECT}, but runs as project ${project}: keep name: ${PROJECT} in Pulumi.yaml`);
  }
  const raw = pulumi.runtime.allConfig();
  try {
    const config = loadStackConfig(pulumi.getStack(), raw, { secretKeys: Object.keys(raw).filter((k) => isConfigSecret(k)) });
    for (const warning of config.configWarnings) void pulumi.log.warn(warning);
    return config;
  } catch (e) {
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
}
