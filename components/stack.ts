import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../stacks/config";
import { buildTopology } from "../core/topology";
import { buildFirewalls } from "../core/firewall";
import { publicKeyFromPrivate } from "../core/ssh";
import { HetznerInfrastructure } from "./infrastructure";
import { SwarmBootstrap } from "./bootstrap";
import { SwarmPlatform } from "./platform";
import { buildPlatform } from "../specs/platform";
import { vaultRunbook } from "../specs/vault";
import { dataEndpoints } from "../specs/data";

export interface StackOptions {
  /** Passed to every top-level component (tests use it to observe resource options). */
  readonly resourceOptions?: pulumi.ComponentResourceOptions;
}

/**
 * Declares the whole stack from a validated config and returns its outputs.
 * The composition root: pure layers decide, components declare.
 */
export function defineStack(config: StackConfig, options: StackOptions = {}): Record<string, pulumi.Input<unknown>> {
  const topology = buildTopology(config);
  const firewalls = buildFirewalls(config, topology);
  const deployPublicKey = publicKeyFromPrivate(config.ssh.privateKey);
  if (!deployPublicKey) throw new Error("sshPrivateKey passed validation but yields no public key");
  const infra = new HetznerInfrastructure("cluster", {
    config,
    topology,
    firewalls,
    authorizedKeys: [deployPublicKey, ...config.ssh.additionalPublicKeys],
  }, options.resourceOptions);
  const swarm = new SwarmBootstrap("swarm", { config, topology, servers: infra.servers }, options.resourceOptions);
  const platform = new SwarmPlatform("platform", { config, spec: buildPlatform(config, topology), provider: swarm.dockerProvider }, { ...options.resourceOptions, dependsOn: [swarm] });

  return {
    profile: config.profile,
    nodes: topology.nodes.map((n) => ({
      name: n.name,
      role: n.role,
      pool: n.pool,
      location: n.location,
      privateIp: n.privateIp,
      labels: n.labels,
      availability: n.availability,
    })),
    edgeNode: topology.edge.name,
    floatingIp: infra.floatingIpAddress,
    nodePublicIps: Object.fromEntries(Object.entries(infra.servers).map(([name, s]) => [name, s.publicIp])),
    deployPublicKey,
    data: dataEndpoints(config, topology),
    redisPassword: platform.secretValues["redis-password"],
    rabbitmqAdminPassword: platform.secretValues["rabbitmq-admin-password"],
    vaultInitSteps: vaultRunbook(config, topology),
  };
}
