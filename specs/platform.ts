import type { StackConfig } from "../stacks/config";
import type { Topology } from "../core/topology";
import { mergePlatform, type PlatformSpec } from "./model";
import { specContext, type SpecContext } from "./context";
import { networkSpecs } from "./networks";
import { redisSpecs } from "./redis";
import { rabbitmqSpecs } from "./rabbitmq";
import { etcdSpecs } from "./etcd";
import { vaultSpecs } from "./vault";
import { apisixSpecs } from "./apisix";
import { edgeSpecs } from "./edge";
import { monitoringSpecs } from "./monitoring";

export type SpecBuilder = (ctx: SpecContext) => PlatformSpec;

/** Every part of the platform, in deploy-reading order. */
export const BUILDERS: readonly SpecBuilder[] = [
  networkSpecs,
  redisSpecs,
  rabbitmqSpecs,
  etcdSpecs,
  vaultSpecs,
  apisixSpecs,
  edgeSpecs,
  monitoringSpecs,
];

/** The whole platform of a stack as plain data. */
export function buildPlatform(config: StackConfig, topology: Topology): PlatformSpec {
  const ctx = specContext(config, topology);
  return mergePlatform(...BUILDERS.map((b) => b(ctx)));
}
