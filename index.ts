import { assertProgramEnvironment } from "./platform/environment";
import { readPulumiConfig } from "./platform/pulumi-config";
import { defineStack } from "./components/stack";

// The environment, then validation: either stops the program before any resource exists.
assertProgramEnvironment();
const config = readPulumiConfig();

export = defineStack(config);
