/**
 * The platform as a docker stack file: the same PlatformSpec the Pulumi docker
 * renderer reads, for review, `docker stack config -c` and `docker stack deploy`.
 *
 * Deploy it under the stack's namePrefix as stack name (`docker stack deploy -c
 * docker-stack.yml <prefix>`): Swarm then names services `<prefix>_<name>` and
 * gives each the alias `<name>`, exactly as the Pulumi renderer does.
 *
 * Configs are files next to the stack file (`configs/<name>`); secrets are either
 * files the operator provides (`secrets/<key>`, never written by this renderer
 * unless values are passed in) or external secrets created beforehand.
 */
import { stringify } from "yaml";
import { secretObjectName } from "../core/naming";
import { VXLAN_ID_OPTION } from "../core/networks";
import { type FileRef, type MountSpec, type PlatformSpec, type ServiceSpec, type UpdatePolicy } from "../core/model";

export interface ComposeOptions {
  /** file: secrets come from `secrets/<key>` next to the stack file; external: they already exist in the Swarm. */
  readonly secrets: "file" | "external";
  /**
   * Secret values by key (e.g. generated for an end-to-end test). With a value, the
   * secret is named by the hash of its content and its file is part of the output;
   * without, it is named `<namePrefix>` and must not change once deployed.
   */
  readonly secretValues?: Readonly<Record<string, string>>;
  /** Stack name the file is meant for; only used in the header comment. */
  readonly stackName?: string;
}

export interface ComposeOutput {
  /** The stack file. */
  readonly yaml: string;
  /** Files the stack file refers to, by path relative to it (configs, and secrets whose values were given). */
  readonly files: Readonly<Record<string, string>>;
  /** Secret files the operator must provide (file mode, no value given). */
  readonly missingSecretFiles: readonly string[];
}

/** docker stack interpolates ${VAR} in every value: a literal $ is written $$. */
function literal(value: string): string {
  return value.replace(/\$/g, "$$$$");
}

const literals = (values: readonly string[]): string[] => values.map(literal);

function fileRef(ref: FileRef): Record<string, unknown> {
  return {
    source: ref.key,
    target: ref.target,
    ...(ref.uid !== undefined ? { uid: ref.uid } : {}),
    ...(ref.gid !== undefined ? { gid: ref.gid } : {}),
    mode: ref.mode,
  };
}

function mount(m: MountSpec): Record<string, unknown> {
  if (m.type === "tmpfs") {
    return {
      type: "tmpfs",
      target: m.target,
      ...(m.tmpfsSizeBytes !== undefined ? { tmpfs: { size: m.tmpfsSizeBytes } } : {}),
    };
  }
  return { type: m.type, source: m.source, target: m.target, read_only: m.readOnly };
}

function policy(u: UpdatePolicy): Record<string, unknown> {
  return {
    parallelism: u.parallelism,
    delay: u.delay,
    failure_action: u.failureAction,
    monitor: u.monitor,
    max_failure_ratio: u.maxFailureRatio,
    order: u.order,
  };
}

function cpus(n: number): string {
  return Number.isInteger(n) ? n.toFixed(1) : String(n);
}

function service(s: ServiceSpec): Record<string, unknown> {
  const out: Record<string, unknown> = { image: s.image };
  if (s.entrypoint) out.entrypoint = literals(s.entrypoint);
  if (s.command) out.command = literals(s.command);
  if (Object.keys(s.env).length > 0) {
    out.environment = Object.fromEntries(Object.entries(s.env).map(([k, v]) => [k, literal(v)]));
  }
  if (s.hostname) out.hostname = s.hostname;
  if (s.user) out.user = s.user;
  if (s.hardening?.readOnlyRootFs) out.read_only = true;
  if (s.hardening && s.hardening.capDrop.length > 0) out.cap_drop = [...s.hardening.capDrop];
  if (s.hardening && s.hardening.capAdd.length > 0) out.cap_add = [...s.hardening.capAdd];
  out.networks = Object.fromEntries(s.networks.map((n) => [n.key, n.aliases.length > 0 ? { aliases: [...n.aliases] } : null]));
  if (s.ports.length > 0) {
    out.ports = s.ports.map((p) => ({ target: p.target, published: p.published, protocol: p.protocol, mode: p.mode }));
  }
  if (s.secrets.length > 0) out.secrets = s.secrets.map(fileRef);
  if (s.configs.length > 0) out.configs = s.configs.map(fileRef);
  if (s.mounts.length > 0) out.volumes = s.mounts.map(mount);
  out.healthcheck = {
    test: literals(s.healthcheck.test),
    interval: s.healthcheck.interval,
    timeout: s.healthcheck.timeout,
    retries: s.healthcheck.retries,
    start_period: s.healthcheck.startPeriod,
  };
  out.stop_grace_period = s.stopGracePeriod;
  out.deploy = {
    ...("global" in s.mode ? { mode: "global" } : { mode: "replicated", replicas: s.mode.replicas }),
    endpoint_mode: s.endpointMode,
    placement: {
      constraints: [...s.placement.constraints],
      ...(s.placement.spread.length > 0 ? { preferences: s.placement.spread.map((spread) => ({ spread })) } : {}),
      ...(s.placement.maxReplicasPerNode !== undefined ? { max_replicas_per_node: s.placement.maxReplicasPerNode } : {}),
    },
    resources: {
      limits: { cpus: cpus(s.resources.limits.cpus), memory: String(s.resources.limits.memoryBytes) },
      reservations: { cpus: cpus(s.resources.reservations.cpus), memory: String(s.resources.reservations.memoryBytes) },
    },
    restart_policy: {
      condition: s.restartPolicy.condition,
      delay: s.restartPolicy.delay,
      max_attempts: s.restartPolicy.maxAttempts,
      window: s.restartPolicy.window,
    },
    update_config: policy(s.update),
    rollback_config: policy(s.rollback),
    labels: { ...s.labels },
  };
  return out;
}

export function renderCompose(spec: PlatformSpec, options: ComposeOptions): ComposeOutput {
  const files: Record<string, string> = {};
  const missingSecretFiles: string[] = [];

  const networks = Object.fromEntries(spec.networks.map((n) => [n.key, {
    name: n.name,
    driver: n.driver,
    attachable: n.attachable,
    internal: n.internal,
    driver_opts: {
      ...(n.encrypted ? { encrypted: "" } : {}),
      "com.docker.network.driver.mtu": String(n.mtu),
      // The same VNI as the Pulumi renderer: Docker refuses a second network with it, so both cannot run in one swarm by accident.
      [VXLAN_ID_OPTION]: String(n.vni),
    },
    labels: { ...n.labels },
    // No gateway: the v3 stack-file schema allows only `subnet` here, and Docker assigns the same first host itself.
    ...(n.subnet ? { ipam: { config: [{ subnet: n.subnet }] } } : {}),
  }]));

  const volumes = Object.fromEntries(spec.volumes.map((v) => [v.key, { name: v.name, driver: v.driver, labels: { ...v.labels } }]));

  const secrets = Object.fromEntries(spec.secrets.map((s) => {
    const value = options.secretValues?.[s.key];
    const name = secretObjectName(s, value);
    if (options.secrets === "external") return [s.key, { name, external: true }];
    const path = `secrets/${s.key}`;
    if (value === undefined) missingSecretFiles.push(path);
    else files[path] = value;
    return [s.key, { name, file: `./${path}` }];
  }));

  const configs = Object.fromEntries(spec.configs.map((c) => {
    const path = `configs/${c.name}`;
    files[path] = c.content;
    return [c.key, { name: c.name, file: `./${path}` }];
  }));

  const doc: Record<string, unknown> = {
    version: "3.8",
    services: Object.fromEntries(spec.services.map((s) => [s.name, service(s)])),
  };
  if (spec.networks.length > 0) doc.networks = networks;
  if (spec.volumes.length > 0) doc.volumes = volumes;
  if (spec.secrets.length > 0) doc.secrets = secrets;
  if (spec.configs.length > 0) doc.configs = configs;

  const stack = options.stackName ?? "<namePrefix>";
  const header = [
    "# Generated from the platform spec (npm run plan -- --format compose); do not edit by hand.",
    `# Deploy: docker stack deploy -c docker-stack.yml ${stack}`,
    options.secrets === "external"
      ? "# Secrets are external: create them first (docker secret create <name> <file>)."
      : "# Secrets are read from secrets/<key> next to this file; configs from configs/<name>.",
    "",
  ].join("\n");
  return { yaml: header + stringify(doc, { lineWidth: 0, aliasDuplicateObjects: false }), files, missingSecretFiles };
}
