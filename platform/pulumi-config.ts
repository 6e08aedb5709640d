import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../stacks/errors";
import { PROJECT, type StackConfig } from "../stacks/config";
import { loadStackConfig } from "./config";

/**
 * The stack's configuration as the Pulumi CLI (or the mocks) hands it over,
 * validated. A bad value stops the program with a message naming the key,
 * before any resource is declared.
 */
export function readPulumiConfig(): StackConfig {
  const project = pulumi.getProject();
  if (project !== PROJECT) {
    throw new pulumi.RunError(`this program belongs to project ${PROJECT}, but runs as project ${project}: keep name: ${PROJECT} in Pulumi.yaml`);
  }
  try {
    return loadStackConfig(pulumi.getStack(), pulumi.runtime.allConfig());
  } catch (e) {
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
}
