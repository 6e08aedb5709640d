import { swarmObjectName } from "../../core/naming";
import type { SecretSpec } from "../../core/model";

/** A generated secret (a password, a key): @pulumi/random makes the value, the spec never holds it. */
export function randomSecret(prefix: string, key: string, length: number, description: string): SecretSpec {
  return { key, namePrefix: swarmObjectName(prefix, key), source: { kind: "random", length, special: false }, description };
}

/** A secret whose value is a secret setting of the stack. */
export function settingSecret(prefix: string, key: string, setting: string, description: string): SecretSpec {
  return { key, namePrefix: swarmObjectName(prefix, key), source: { kind: "setting", setting }, description };
}
