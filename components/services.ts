/**
 * The platform's Swarm objects as @pulumi/docker resources, from the same
 * PlatformSpec the stack-file renderer reads. Thin on purpose: every decision
 * (names, placement, limits, config contents) is in core/ and families/.
 *
 * - Networks, configs, secrets and services are created through the given
 *   provider (a Swarm manager).
 * - Secrets and configs are named by content hash: a change creates a new one
 *   (create-before-delete, explicit: the bridge would delete first, and Docker
 *   refuses to delete one a service still uses) and the services roll to it. Random secrets come from
 *   @pulumi/random and stay Pulumi secrets end to end; secret names are plain
 *   (see secretName), so a service's inputs are not hidden wholesale.
 * - A member's volume lives on the node the member is pinned to. A docker.Volume
 *   resource would be created on the provider's daemon (a manager) instead, so a
 *   node-local volume is declared in the service's mount (driver and labels) and
 *   Swarm creates it on the member's node; only volumes without a node become
 *   docker.Volume resources.
 * - convergeConfig: `pulumi up` waits for the tasks to run healthy and fails
 *   (Swarm rolling back per update_config) when an update does not converge.
 *   Replicated services only: the provider refuses it beside `mode.global`.
 * - Every input is in the form Docker and the provider read back after a create
 *   (tests/provider-readback.test.ts), so an unchanged stack previews with no change.
 */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as random from "@pulumi/random";
import { configLabels, secretLabels, secretNameNeedsSalt, secretObjectName, serviceAliases, swarmServiceName } from "../core/naming";
import { VXLAN_ID_OPTION } from "../core/networks";
import type { StackConfig } from "../stacks/config";
import {
  type ConfigSpec,
  type FileRef,
  MAX_TMPFS_MODE,
  type MountSpec,
  type NetworkSpec,
  type PlatformSpec,
  type SecretSpec,
  type UpdatePolicy,
  type VolumeSpec,
} from "../core/model";

export interface ServicesArgs {
  readonly config: StackConfig;
  readonly spec: PlatformSpec;
  /** Docker provider connected to a Swarm manager. */
  readonly provider: pulumi.ProviderResource;
}

/** How long `pulumi up` waits for a service's tasks to run healthy. */
export const CONVERGE = {
  stateful: { delay: "7s", timeout: "10m" },
  stateless: { delay: "7s", timeout: "5m" },
} as const;

type Labels = { label: string; value: string }[];
const labelList = (labels: Readonly<Record<string, string>>): Labels =>
  Object.entries(labels).map(([label, value]) => ({ label, value }));

const base64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");

export function networkArgs(n: NetworkSpec): docker.NetworkArgs {
  return {
    name: n.name,
    driver: n.driver,
    attachable: n.attachable,
    internal: n.internal,
    options: {
      ...(n.encrypted ? { encrypted: "" } : {}),
      "com.docker.network.driver.mtu": String(n.mtu),
      [VXLAN_ID_OPTION]: String(n.vni),
    },
    labels: labelList(n.labels),
    ...(n.subnet ? { ipamConfigs: [{ subnet: n.subnet, ...(n.gateway ? { gateway: n.gateway } : {}) }] } : {}),
  };
}

/**
 * Replacement order of the platform's Docker objects, explicit so the plan shows it
 * (docs/provider-facts.md §3 facts 17-20): a service is deleted before its successor
 * is created (names are fixed); a secret or config is created first (its successor's
 * name differs by content hash, and Docker refuses to delete one still in use).
 */
export const REPLACE_ORDER = {
  service: { deleteBeforeReplace: true },
  fileObject: { deleteBeforeReplace: false },
} as const;

/**
 * Filled in by the Docker client from the image index at create (one entry per
 * platform of the image), never by the program.
 */
export const SERVICE_IGNORE_CHANGES = ["taskSpec.placement.platforms"];

function policy(u: UpdatePolicy): docker.types.input.ServiceUpdateConfig {
  return {
    parallelism: u.parallelism,
    delay: u.delay,
    failureAction: u.failureAction,
    monitor: u.monitor,
    maxFailureRatio: String(u.maxFailureRatio),
    order: u.order,
  };
}

export function mountArgs(m: MountSpec, volumes: ReadonlyMap<string, VolumeSpec>): docker.types.input.ServiceTaskSpecContainerSpecMount {
  switch (m.type) {
    case "tmpfs":
      if (m.tmpfsMode !== undefined && (m.tmpfsMode < 0 || m.tmpfsMode > MAX_TMPFS_MODE)) {
        throw new Error(`tmpfs mount ${m.target}: mode 0o${m.tmpfsMode.toString(8)} is above 0o777; Docker keeps the permission bits only and the mode would differ on every preview`);
      }
      return {
        type: "tmpfs",
        target: m.target,
        readOnly: m.readOnly,
        tmpfsOptions: { sizeBytes: m.tmpfsSizeBytes, mode: m.tmpfsMode },
      };
    case "bind":
      return { type: "bind", source: m.source, target: m.target, readOnly: m.readOnly };
    case "volume": {
      const v = volumes.get(m.source);
      if (!v) throw new Error(`mount of ${m.target} names volume ${m.source}, which the platform spec does not declare`);
      return {
        type: "volume",
        source: v.name,
        target: m.target,
        readOnly: m.readOnly,
        volumeOptions: { driverName: v.driver, labels: labelList(v.labels) },
      };
    }
  }
}

export class Services extends pulumi.ComponentResource {
  /** By spec key. */
  public readonly networkIds: Record<string, pulumi.Output<string>>;
  /** Docker names of the secrets by key (content-hashed). */
  public readonly secretNames: Record<string, pulumi.Output<string>>;
  /** Secret values by key (generated passwords): Pulumi secrets. */
  public readonly secretValues: Record<string, pulumi.Output<string>>;
  public readonly configNames: Record<string, string>;
  /** Swarm service names by spec name. */
  public readonly serviceNames: Record<string, pulumi.Output<string>>;

  constructor(name: string, args: ServicesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("swarm:platform:Services", name, {}, opts);
    const { spec, config, provider } = args;
    const child: pulumi.CustomResourceOptions = { parent: this, provider };
    const prefix = config.namePrefix;

    const networks = new Map<string, docker.Network>();
    for (const n of spec.networks) {
      networks.set(n.key, new docker.Network(`${name}-net-${n.key}`, networkArgs(n), child));
    }

    const volumeSpecs = new Map(spec.volumes.map((v) => [v.key, v]));
    for (const v of spec.volumes.filter((v) => v.node === undefined)) {
      new docker.Volume(`${name}-vol-${v.key}`, { name: v.name, driver: v.driver, labels: labelList(v.labels) }, child);
    }

    const secretValues: Record<string, pulumi.Output<string>> = {};
    const secrets = new Map<string, docker.Secret>();
    for (const s of spec.secrets) {
      const value = this.secretValue(name, config, s);
      secretValues[s.key] = value;
      secrets.set(s.key, new docker.Secret(`${name}-secret-${s.key}`, {
        name: pulumi.unsecret(this.secretName(name, s, value)),
        data: pulumi.secret(value.apply(base64)),
        labels: labelList(secretLabels(config.stack, s.key)),
      }, { ...child, ...REPLACE_ORDER.fileObject }));
    }

    const configs = new Map<string, docker.ServiceConfig>();
    for (const c of spec.configs) {
      configs.set(c.key, new docker.ServiceConfig(`${name}-config-${c.key}`, configArgs(config, c), { ...child, ...REPLACE_ORDER.fileObject }));
    }

    const secretRef = (r: FileRef): docker.types.input.ServiceTaskSpecContainerSpecSecret => {
      const secret = secrets.get(r.key);
      if (!secret) throw new Error(`a service refers to secret ${r.key}, which the platform spec does not declare`);
      return { secretId: secret.id, secretName: secret.name, fileName: r.target, fileMode: r.mode, fileUid: r.uid, fileGid: r.gid };
    };
    const configRef = (r: FileRef): docker.types.input.ServiceTaskSpecContainerSpecConfig => {
      const cfg = configs.get(r.key);
      if (!cfg) throw new Error(`a service refers to config ${r.key}, which the platform spec does not declare`);
      return { configId: cfg.id, configName: cfg.name, fileName: r.target, fileMode: r.mode, fileUid: r.uid, fileGid: r.gid };
    };

    const serviceNames: Record<string, pulumi.Output<string>> = {};
    const services = new Map<string, docker.Service>();
    for (const s of spec.services) {
      const previous = s.after === undefined ? undefined : services.get(s.after);
      if (s.after !== undefined && !previous) throw new Error(`service ${s.name} rolls after ${s.after}, which the platform spec does not declare before it`);
      const svc = new docker.Service(`${name}-svc-${s.name}`, {
        name: swarmServiceName(prefix, s),
        labels: labelList(s.labels),
        taskSpec: {
          containerSpec: {
            image: s.image,
            commands: s.entrypoint ? [...s.entrypoint] : undefined,
            args: s.command ? [...s.command] : undefined,
            env: { ...s.env },
            hostname: s.hostname,
            user: s.user,
            // The provider reads these back only when set (read_only true, non-empty lists): omit the defaults.
            ...(s.hardening?.readOnlyRootFs ? { readOnly: true } : {}),
            ...(s.hardening && s.hardening.capDrop.length > 0 ? { capDrops: [...s.hardening.capDrop] } : {}),
            ...(s.hardening && s.hardening.capAdd.length > 0 ? { capAdds: [...s.hardening.capAdd] } : {}),
            secrets: s.secrets.map(secretRef),
            configs: s.configs.map(configRef),
            mounts: s.mounts.map((m) => mountArgs(m, volumeSpecs)),
            healthcheck: {
              tests: [...s.healthcheck.test],
              interval: s.healthcheck.interval,
              timeout: s.healthcheck.timeout,
              retries: s.healthcheck.retries,
              startPeriod: s.healthcheck.startPeriod,
            },
            stopGracePeriod: s.stopGracePeriod,
          },
          networksAdvanceds: s.networks.map((n) => {
            const net = networks.get(n.key);
            if (!net) throw new Error(`service ${s.name} joins network ${n.key}, which the platform spec does not declare`);
            return { id: net.id, aliases: serviceAliases(s, n.aliases) };
          }),
          placement: {
            constraints: [...s.placement.constraints],
            // The bare descriptor: the provider passes the string verbatim and Swarm ignores "spread=...".
            prefs: [...s.placement.spread],
            maxReplicas: s.placement.maxReplicasPerNode,
          },
          resources: {
            limits: { nanoCpus: Math.round(s.resources.limits.cpus * 1e9), memoryBytes: s.resources.limits.memoryBytes },
            reservation: { nanoCpus: Math.round(s.resources.reservations.cpus * 1e9), memoryBytes: s.resources.reservations.memoryBytes },
          },
          restartPolicy: {
            condition: s.restartPolicy.condition,
            delay: s.restartPolicy.delay,
            maxAttempts: s.restartPolicy.maxAttempts,
            window: s.restartPolicy.window,
          },
        },
        mode: "global" in s.mode ? { global: true } : { replicated: { replicas: s.mode.replicas } },
        endpointSpec: {
          mode: s.endpointMode,
          ports: s.ports.map((p) => ({ targetPort: p.target, publishedPort: p.published, protocol: p.protocol, publishMode: p.mode })),
        },
        updateConfig: policy(s.update),
        rollbackConfig: policy(s.rollback),
        ...("global" in s.mode ? {} : { convergeConfig: s.stateful ? CONVERGE.stateful : CONVERGE.stateless }),
      }, {
        ...child,
        ...REPLACE_ORDER.service,
        ignoreChanges: SERVICE_IGNORE_CHANGES,
        ...(previous ? { dependsOn: [previous] } : {}),
      });
      services.set(s.name, svc);
      serviceNames[s.name] = svc.name;
    }

    this.networkIds = Object.fromEntries([...networks].map(([k, n]) => [k, n.id]));
    this.secretNames = Object.fromEntries([...secrets].map(([k, s]) => [k, s.name]));
    this.secretValues = secretValues;
    this.configNames = Object.fromEntries(spec.configs.map((c) => [c.key, c.name]));
    this.serviceNames = serviceNames;
    this.registerOutputs({
      networkIds: this.networkIds,
      secretNames: this.secretNames,
      secretValues: this.secretValues,
      configNames: this.configNames,
      serviceNames: this.serviceNames,
    });
  }

  /** The secret's content-derived name (core/naming.ts); the salt, where one is needed, is itself a secret. */
  private secretName(name: string, s: SecretSpec, value: pulumi.Output<string>): pulumi.Output<string> {
    if (!secretNameNeedsSalt(s)) return value.apply((v) => secretObjectName(s, v));
    const salt = new random.RandomPassword(`${name}-${s.key}-name-salt`, { length: 32, special: false }, { parent: this });
    return pulumi.all([salt.result, value]).apply(([k, v]) => secretObjectName(s, v, k));
  }

  private secretValue(name: string, config: StackConfig, s: SecretSpec): pulumi.Output<string> {
    if (s.source.kind === "random") {
      const password = new random.RandomPassword(`${name}-${s.key}`, {
        length: s.source.length,
        special: s.source.special,
      }, { parent: this });
      return pulumi.secret(password.result);
    }
    // The validated value, the one source the whole program reads; never the raw Pulumi config again.
    const value = config.secretSettings[s.source.setting];
    if (value === undefined) throw new Error(`secret ${s.key} reads setting ${s.source.setting}, which is no secret setting of this stack`);
    return pulumi.secret(value);
  }
}

export function configArgs(config: StackConfig, c: ConfigSpec): docker.ServiceConfigArgs {
  return {
    name: c.name,
    data: base64(c.content),
    labels: labelList(configLabels(config.stack, c.key)),
  };
}
