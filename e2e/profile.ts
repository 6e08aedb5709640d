/**
 * The end-to-end profile: the prod stack file with the overrides one machine needs, validated
 * by loadStackConfig like any stack, and the platform the program renders for it as a docker
 * stack file.
 *
 * What stays as in prod: every setting not named below, so 3 Redis members and 3 Sentinels,
 * 3 RabbitMQ nodes, 3 etcd members, 2 endpoint replicas, the same placement rules.
 * What changes, and why:
 * - 3 managers that take workloads (labelled type=service) + 1 worker labelled type=service:
 *   the 3 members of each family land on 3 different daemons as in prod, and the Raft quorums
 *   (Swarm, etcd, RabbitMQ) are real; the members sit on app-01, mgr-01 and mgr-02.
 * - 1 more worker, drill-01, without type=service: only the drills' client runs there (and the
 *   global exporters), so no drill stops the node it measures from.
 * - the private subnet is the local swarm's bridge subnet, so the bootstrap scripts advertise
 *   the addresses the daemons really have;
 * - overlayEncrypted=false and endpointMode=dnsrr: the machine has neither IPsec nor IPVS
 *   (see LOCAL-SWARM.md); production keeps both on;
 * - image<Family> points at the images built from Debian packages.
 */
import { randomBytes } from "node:crypto";
import { buildTopology, type Topology } from "../core/topology";
import { pinTo } from "../core/placement";
import { renderCompose, type ComposeOutput } from "../render/compose";
import type { StackConfig } from "../stacks/config";
import { readStackFile } from "../stacks/stack-file";
import { configSpec, RESTART_ANY, rollbackOf, STATELESS_UPDATE, type PlatformSpec, type SecretSpec, type ServiceSpec } from "../core/model";
import { NET } from "../core/networks";
import { swarmLabels } from "../core/naming";
import { MiB } from "../lib/size";
import { imageSettingKey } from "../families/kit/images";
import { REDIS_PASSWORD_SECRET } from "../families/redis";
import { RABBITMQ_ADMIN_SECRET } from "../families/rabbitmq";
import { loadStackConfig, offlineSecrets } from "../platform/config";
import { buildPlatform, type Platform } from "../platform/assemble";
import { LOCAL_SWARM_NETWORK } from "./support/local-swarm";

export const E2E_STACK = "e2e";
export const CLIENT_SERVICE = "e2e-client";
/** Replicated, unpinned tasks on every manager, so the Swarm drill always has a task to move off the leader. */
export const PROBE_SERVICE = "e2e-probe";
export const CLIENT_POOL = "drill";
/** Where the client finds the drill script and the secrets it needs. */
export const CLIENT_SCRIPT = "/drills/drill.py";

/** Raw settings of the end-to-end stack: Pulumi.prod.yaml plus the overrides described above. */
export function e2eRawConfig(projectDir: string, images: Readonly<Record<string, string>>): Record<string, string> {
  const prod = readStackFile(projectDir, "prod").config;
  const ns = "swarm-platform";
  const overrides: Record<string, unknown> = {
    profile: "prod",
    namePrefix: E2E_STACK,
    nodePools: [
      "mgr role=manager count=3 type=cx33 locations=fsn1,nbg1,hel1 labels=type:service ipOffset=11",
      "app role=worker count=1 type=cx43 locations=fsn1 labels=type:service ipOffset=21",
      `${CLIENT_POOL} role=worker count=1 type=cx23 locations=nbg1 labels=e2e:drill ipOffset=31`,
    ],
    managersRunWorkloads: true,
    networkCidr: "10.213.0.0/16",
    subnetCidr: LOCAL_SWARM_NETWORK.cidr,
    edgeCandidates: [`${E2E_STACK}-app-01`],
    overlayEncrypted: false,
    endpointMode: "dnsrr",
  };
  for (const [key, ref] of Object.entries(images)) overrides[imageSettingKey(key)] = ref;
  // As the Pulumi CLI hands config to a program: strings, arrays as JSON.
  const raw: Record<string, string> = { ...prod };
  for (const [key, value] of Object.entries(overrides)) raw[`${ns}:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
  return { ...raw, ...offlineSecrets(raw) };
}

/**
 * Defects in the specs that the drills found and that would break production as well. Each
 * is reported to the spec's owner; until it is fixed there, the e2e deploy works around it,
 * says so in its log, and applies the workaround only while the spec still has that exact
 * defect, so the fixed spec is what gets tested the day it lands.
 */
export interface SpecDefect {
  readonly id: string;
  readonly why: string;
  applies(service: ServiceSpec): boolean;
  workaround(service: ServiceSpec): ServiceSpec;
}

export const KNOWN_SPEC_DEFECTS: readonly SpecDefect[] = [];

export interface E2eStack {
  readonly config: StackConfig;
  readonly topology: Topology;
  /** The platform as the program renders it (its parts too), before the end-to-end filter. */
  readonly platform: Platform;
  readonly full: PlatformSpec;
  /** What is deployed: services whose images were built, their objects, and the drills' client. */
  readonly deployed: PlatformSpec;
  /** Services left out because Debian cannot provide their image, with that image. */
  readonly leftOut: readonly { readonly service: string; readonly image: string }[];
  /** Known spec defects worked around in this deploy, with the services they touched. */
  readonly workarounds: readonly { readonly defect: SpecDefect; readonly services: readonly string[] }[];
}

export function e2eStack(projectDir: string, images: Readonly<Record<string, string>>, clientImage: string, clientScript: string): E2eStack {
  const config = loadStackConfig(E2E_STACK, e2eRawConfig(projectDir, images));
  const topology = buildTopology(config);
  const platform = buildPlatform(config, topology);
  const full = platform.spec;
  const local = new Set(Object.values(images));
  const workarounds = KNOWN_SPEC_DEFECTS.map((defect) => ({ defect, services: full.services.filter((s) => local.has(s.image) && defect.applies(s)).map((s) => s.name) })).filter((w) => w.services.length > 0);
  const kept = full.services
    .filter((s) => local.has(s.image))
    .map((s) => KNOWN_SPEC_DEFECTS.reduce((service, defect) => (defect.applies(service) ? defect.workaround(service) : service), s));
  const leftOut = full.services.filter((s) => !local.has(s.image)).map((s) => ({ service: s.name, image: s.image }));
  const client = clientService(config, topology, clientImage, clientScript);
  const services = [...kept, client.service, probeService(config, topology, clientImage)];
  const used = (pick: (s: ServiceSpec) => readonly string[]): Set<string> => new Set(services.flatMap(pick));
  const networks = used((s) => s.networks.map((n) => n.key));
  const secrets = used((s) => s.secrets.map((f) => f.key));
  const configs = used((s) => s.configs.map((f) => f.key));
  const volumes = used((s) => s.mounts.filter((m) => m.type === "volume").map((m) => m.source));
  const deployed: PlatformSpec = {
    networks: full.networks.filter((n) => networks.has(n.key)),
    volumes: full.volumes.filter((v) => volumes.has(v.key)),
    secrets: full.secrets.filter((s) => secrets.has(s.key)),
    configs: [...full.configs.filter((c) => configs.has(c.key)), client.script],
    services,
  };
  return { config, topology, platform, full, deployed, leftOut, workarounds };
}

/**
 * The drills' client: Debian's redis-cli, etcdctl and python3 with pika and redis, on the
 * platform, backend and etcd networks, pinned to the drill node. It reads the passwords it needs
 * from Docker secret files, like any client of the platform.
 */
function clientService(config: StackConfig, topology: Topology, image: string, script: string): { service: ServiceSpec; script: ReturnType<typeof configSpec> } {
  const node = topology.nodes.find((n) => n.pool === CLIENT_POOL);
  if (!node) throw new Error(`the e2e profile has no ${CLIENT_POOL} node`);
  const drill = configSpec(config.namePrefix, "e2e-drill-py", script);
  const service: ServiceSpec = {
    name: CLIENT_SERVICE,
    component: CLIENT_SERVICE,
    image,
    command: ["sleep", "infinity"],
    env: {},
    hostname: CLIENT_SERVICE,
    mode: { replicas: 1 },
    endpointMode: "dnsrr",
    ports: [],
    // etcd sits on its own network: the drills' client joins it as APISIX does.
    networks: [NET.platform, NET.backend, NET.etcd].map((key) => ({ key, aliases: [CLIENT_SERVICE] })),
    secrets: [REDIS_PASSWORD_SECRET, RABBITMQ_ADMIN_SECRET].map((key) => ({ key, target: `/run/secrets/${key}`, mode: 0o400 })),
    configs: [{ key: drill.key, target: CLIENT_SCRIPT, mode: 0o555 }],
    mounts: [],
    placement: { constraints: [pinTo(node)], spread: [] },
    node: node.name,
    resources: { limits: { cpus: 1, memoryBytes: 256 * MiB }, reservations: { cpus: 0.01, memoryBytes: 16 * MiB } },
    healthcheck: { test: ["CMD", "python3", "-c", "import pika, redis"], interval: "30s", timeout: "10s", retries: 3, startPeriod: "10s" },
    stopGracePeriod: "5s",
    restartPolicy: RESTART_ANY,
    update: STATELESS_UPDATE,
    rollback: rollbackOf(STATELESS_UPDATE),
    labels: swarmLabels(config.stack, CLIENT_SERVICE),
    stateful: false,
  };
  return { service, script: drill };
}

/**
 * Which node leads the Swarm is Raft's choice, and the platform's movable tasks may all sit
 * elsewhere: one small task per manager (spread over the managers, no per-node cap) makes sure
 * stopping the leader leaves Swarm a task to reschedule.
 */
function probeService(config: StackConfig, topology: Topology, image: string): ServiceSpec {
  return {
    name: PROBE_SERVICE,
    component: PROBE_SERVICE,
    image,
    command: ["sleep", "infinity"],
    env: {},
    mode: { replicas: topology.managers.length },
    endpointMode: "dnsrr",
    ports: [],
    networks: [{ key: NET.platform, aliases: [] }],
    secrets: [],
    configs: [],
    mounts: [],
    placement: { constraints: ["node.role == manager"], spread: ["node.hostname"] },
    resources: { limits: { cpus: 0.1, memoryBytes: 32 * MiB }, reservations: { cpus: 0.01, memoryBytes: 4 * MiB } },
    healthcheck: { test: ["CMD", "true"], interval: "10s", timeout: "5s", retries: 3, startPeriod: "5s" },
    stopGracePeriod: "2s",
    restartPolicy: RESTART_ANY,
    update: STATELESS_UPDATE,
    rollback: rollbackOf(STATELESS_UPDATE),
    labels: swarmLabels(config.stack, PROBE_SERVICE),
    stateful: false,
  };
}

/** A value for every secret the deployed services mount: random, never printed, never in an environment. */
export function generateSecretValues(secrets: readonly SecretSpec[]): Record<string, string> {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const values: Record<string, string> = {};
  for (const s of secrets) {
    const length = s.source.kind === "random" ? s.source.length : 32;
    const bytes = randomBytes(length);
    values[s.key] = Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
  }
  return values;
}

export function renderE2eCompose(stack: E2eStack, secretValues: Readonly<Record<string, string>>): ComposeOutput {
  return renderCompose(stack.deployed, { secrets: "file", secretValues, stackName: stack.config.namePrefix });
}
