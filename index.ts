import { readPulumiConfig } from "./platform/pulumi-config";
import { defineStack } from "./components/stack";

// Validation first: a bad setting stops the program before any resource exists.
const config = readPulumiConfig();

export = defineStack(config);
