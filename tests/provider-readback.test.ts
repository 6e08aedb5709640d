/**
 * After a real `pulumi up`, an unchanged stack must preview with no change. A
 * preview diffs the program's inputs against what the provider stored when it
 * read the object back after create (docs/provider-facts.md §3 fact 1), so this
 * file holds an independent model of that read-back, written from the provider's
 * own expand and flatten functions and from what Docker adds on the way, and never
 * from the program's code:
 *
 *   K   = kreuzwerker/terraform-provider-docker@v4.5.0 internal/provider/ (under @pulumi/docker 5.2.0)
 *   C   = moby/moby@v28.5.2 client/ (the Docker client the provider links)
 *   M   = moby/moby@v27.5.1 (the engine on the nodes; SK = its vendored swarmkit)
 *   SDK = the Terraform plugin SDK v2 diff rules (helper/schema/schema.go)
 *
 * Every docker.Service, Network, Secret and ServiceConfig input of both committed
 * stacks (as tools/mock-runtime.ts records them) goes through create + read-back,
 * and the next diff, with the resource's ignoreChanges applied and the provider's
 * ForceNew fields known, must be empty. A deliberate change must still be seen.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { before, describe, test } from "node:test";
import { reveal, runProgram, type ProgramRun, type RecordedResource } from "../tools/mock-runtime";
import { stackFileConfig } from "./support/config";
import { mergePlatform, type ServiceSpec } from "../core/model";
import { mountArgs } from "../components/services";
import { digestCommand, unpinnedImageWarnings } from "../families/kit/images";
import { partWarnings } from "../platform/outputs";

type Json = unknown;
type Obj = Record<string, Json>;
const obj = (v: Json): Obj => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: Json): Json[] => (Array.isArray(v) ? v : []);

// ---------------------------------------------------------------------------
// Go values the provider converts through.

/** time.ParseDuration, for the forms a spec can carry (K expands every duration with it and ignores the error). */
function parseDuration(text: string): bigint {
  const scale: Record<string, bigint> = { ns: 1n, us: 1000n, "\u00b5s": 1000n, ms: 1000000n, s: 1000000000n, m: 60000000000n, h: 3600000000000n };
  if (text === "0") return 0n;
  let total = 0n;
  const re = /(\d+)(?:\.(\d+))?(ns|us|\u00b5s|ms|s|m|h)/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(text)) !== null) {
    const unit = scale[m[3]];
    total += BigInt(m[1]) * unit + (m[2] ? (BigInt(m[2]) * unit) / 10n ** BigInt(m[2].length) : 0n);
    end = re.lastIndex;
  }
  // ParseDuration fails on anything else; K drops the error and sends 0.
  return end === text.length && end > 0 ? total : 0n;
}

/** time.Duration.String() (Go's src/time/time.go), whole and fractional seconds. */
function durationString(ns: bigint): string {
  if (ns === 0n) return "0s";
  const frac = (v: bigint, digits: number): string => {
    const p = 10n ** BigInt(digits);
    const f = (v % p).toString().padStart(digits, "0").replace(/0+$/, "");
    return f ? `${v / p}.${f}` : `${v / p}`;
  };
  if (ns < 1000n) return `${ns}ns`;
  if (ns < 1000000n) return `${frac(ns, 3)}\u00b5s`;
  if (ns < 1000000000n) return `${frac(ns, 6)}ms`;
  const h = ns / 3600000000000n;
  const m = (ns / 60000000000n) % 60n;
  const s = frac(ns % 60000000000n, 9);
  return h > 0n ? `${h}h${m}m${s}s` : m > 0n ? `${m}m${s}s` : `${s}s`;
}

/** K resource_docker_service_structures.go:1341-1350 (shortDur). */
function shortDur(ns: bigint): string {
  let s = durationString(ns);
  if (s.endsWith("m0s")) s = s.slice(0, -2);
  if (s.endsWith("h0m")) s = s.slice(0, -2);
  return s;
}
const readBackDuration = (d: Json): string => shortDur(parseDuration(String(d)));

// ---------------------------------------------------------------------------
// What the Docker client does at create (C client/service_create.go:45-54, 88-177).

/** reference.FamiliarString: docker.io/library/ and docker.io/ are dropped. */
function familiar(ref: string): string {
  return ref.replace(/^(?:docker\.io|index\.docker\.io)\/library\//, "").replace(/^(?:docker\.io|index\.docker\.io)\//, "");
}

/** The registry's answer to DistributionInspect: an index digest and its platforms. */
const REGISTRY_PLATFORMS = [{ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "arm64" }];
function registryDigest(ref: string): string {
  return `sha256:${createHash("sha256").update(`index of ${familiar(ref).replace(/@.*$/, "")}`).digest("hex")}`;
}

/**
 * QueryRegistry is set on create (K resource_docker_service_funcs.go:45): a tag gets
 * `@<index digest>` unless the reference already is canonical (imageWithDigestString,
 * :151-166), and the index's platforms become the placement platforms (:88-102, :127-147).
 */
function clientResolves(image: string): { image: string; platforms: Obj[] } {
  const canonical = /@sha256:[a-f0-9]{64}$/.test(image);
  return { image: canonical ? familiar(image) : `${familiar(image)}@${registryDigest(image)}`, platforms: REGISTRY_PLATFORMS };
}

// ---------------------------------------------------------------------------
// docker_service: expand (K ..._structures.go:589-1340), the engine, flatten (:23-588).

const known = (what: string, o: Obj, keys: readonly string[]): void => {
  const extra = Object.keys(o).filter((k) => !keys.includes(k));
  // A field the model does not know would pass unchecked: the model must learn it first.
  assert.deepEqual(extra, [], `the read-back model does not know ${what}.${extra.join(", ")}: add it from the provider's source`);
};

const labelSet = (v: Json): Obj[] => arr(v).map((l) => ({ label: obj(l).label, value: obj(l).value }));

/** The service as the engine stores it after create: Swarm keeps the spec it is given (SK controlapi/service.go CreateService). */
function serviceAfterCreate(inputs: Obj): Obj {
  known("service", inputs, ["name", "labels", "taskSpec", "mode", "endpointSpec", "updateConfig", "rollbackConfig", "convergeConfig"]);
  const ts = obj(inputs.taskSpec);
  known("taskSpec", ts, ["containerSpec", "networksAdvanceds", "placement", "resources", "restartPolicy"]);
  const cs = obj(ts.containerSpec);
  known("containerSpec", cs, ["image", "commands", "args", "env", "hostname", "user", "readOnly", "capAdds", "capDrops", "secrets", "configs", "mounts", "healthcheck", "stopGracePeriod"]);
  const resolved = clientResolves(String(cs.image));

  const fileRefs = (list: Json, id: string, name: string): Obj[] => arr(list).map((r) => {
    const x = obj(r);
    known(`containerSpec.${id}`, x, [id, name, "fileName", "fileMode", "fileUid", "fileGid"]);
    // Defaults "0", "0", 0o444 (K resource_docker_service.go:430-447, 473-490) reach the API; flatten
    // (K ..._structures.go:344-396) reads them back, uid/gid only when non-empty.
    return { [id]: x[id], [name]: x[name], fileName: x.fileName, fileUid: x.fileUid ?? "0", fileGid: x.fileGid ?? "0", fileMode: x.fileMode ?? 0o444 };
  });

  const mounts = arr(cs.mounts).map((raw) => {
    const m = obj(raw);
    known("mounts", m, ["type", "source", "target", "readOnly", "tmpfsOptions", "volumeOptions", "bindOptions"]);
    const out: Obj = { target: m.target, source: m.source ?? "", type: m.type, readOnly: m.readOnly ?? false };
    if (m.bindOptions !== undefined) out.bindOptions = { propagation: obj(m.bindOptions).propagation ?? "rprivate" };
    if (m.volumeOptions !== undefined) {
      const v = obj(m.volumeOptions);
      known("volumeOptions", v, ["driverName", "labels", "noCopy", "driverOptions"]);
      out.volumeOptions = { noCopy: v.noCopy ?? false, labels: labelSet(v.labels), ...(v.driverName ? { driverName: v.driverName } : {}), driverOptions: obj(v.driverOptions) };
    }
    if (m.tmpfsOptions !== undefined) {
      const t = obj(m.tmpfsOptions);
      // os.FileMode(mode) on the way in, int(Mode.Perm()) on the way out (K ..._structures.go:274).
      out.tmpfsOptions = { sizeBytes: t.sizeBytes ?? 0, mode: Number(t.mode ?? 0) & 0o777 };
    }
    return out;
  });

  const hc = obj(cs.healthcheck);
  const containerSpec: Obj = {
    image: resolved.image,
    ...(arr(cs.commands).length > 0 ? { commands: cs.commands } : {}),
    ...(arr(cs.args).length > 0 ? { args: cs.args } : {}),
    ...(cs.hostname ? { hostname: cs.hostname } : {}),
    // Env goes out as KEY=value (mapTypeMapValsToStringSlice) and back through mapStringSliceToMap.
    ...(Object.keys(obj(cs.env)).length > 0 ? { env: Object.fromEntries(Object.entries(obj(cs.env)).map(([k, v]) => [k, String(v)])) } : {}),
    ...(cs.user ? { user: cs.user } : {}),
    // Swarm keeps ReadOnly and the capability lists as given; flatten reads read_only back only
    // when true and each list only when non-empty (K resource_docker_service_structures.go:153-154, 186-191; expand :975-988).
    ...(cs.readOnly === true ? { readOnly: true } : {}),
    ...(arr(cs.capAdds).length > 0 ? { capAdds: cs.capAdds } : {}),
    ...(arr(cs.capDrops).length > 0 ? { capDrops: cs.capDrops } : {}),
    ...(mounts.length > 0 ? { mounts } : {}),
    ...(cs.stopGracePeriod !== undefined ? { stopGracePeriod: readBackDuration(cs.stopGracePeriod) } : {}),
    // flattenServiceHealthcheck (:289-305): every duration through shortDur, zero ones as "0s".
    healthcheck: {
      ...(arr(hc.tests).length > 0 ? { tests: hc.tests } : {}),
      interval: readBackDuration(hc.interval ?? "0s"),
      timeout: readBackDuration(hc.timeout ?? "0s"),
      startPeriod: readBackDuration(hc.startPeriod ?? "0s"),
      retries: hc.retries ?? 0,
    },
    ...(arr(cs.secrets).length > 0 ? { secrets: fileRefs(cs.secrets, "secretId", "secretName") } : {}),
    ...(arr(cs.configs).length > 0 ? { configs: fileRefs(cs.configs, "configId", "configName") } : {}),
    // The schema's default "default" is sent and read back (K resource_docker_service.go:495-500).
    isolation: "default",
  };

  const pl = obj(ts.placement);
  known("placement", pl, ["constraints", "prefs", "maxReplicas", "platforms"]);
  // Prefs go out verbatim as SpreadDescriptor (K :1390-1403) and come back verbatim (:499-509).
  const placement: Obj = {
    ...(arr(pl.constraints).length > 0 ? { constraints: pl.constraints } : {}),
    ...(arr(pl.prefs).length > 0 ? { prefs: pl.prefs } : {}),
    platforms: resolved.platforms,
    maxReplicas: pl.maxReplicas ?? 0,
  };
  const res = obj(ts.resources);
  const lim = obj(res.limits);
  const rsv = obj(res.reservation);
  const rp = obj(ts.restartPolicy);
  const restartPolicy: Obj = {
    ...(rp.condition ? { condition: rp.condition } : {}),
    ...(rp.delay !== undefined ? { delay: readBackDuration(rp.delay) } : {}),
    ...(rp.maxAttempts !== undefined ? { maxAttempts: rp.maxAttempts } : {}),
    ...(rp.window !== undefined ? { window: readBackDuration(rp.window) } : {}),
  };
  const networks = arr(ts.networksAdvanceds).map((n) => {
    const x = obj(n);
    known("networksAdvanceds", x, ["id", "aliases"]);
    return { id: x.id, driverOpts: [], ...(arr(x.aliases).length > 0 ? { aliases: x.aliases } : {}) };
  });

  const mode = obj(inputs.mode);
  // flattenServiceMode (:51-63): replicated only when the service is; global always present.
  const flatMode: Obj = mode.global === true ? { global: true } : { replicated: { replicas: obj(mode.replicated).replicas ?? 1 }, global: false };

  // flattenServiceUpdateOrRollbackConfig (:78-93): durations through shortDur, the ratio with one decimal.
  const policy = (p: Json): Obj | undefined => {
    if (p === undefined) return undefined;
    const u = obj(p);
    return {
      parallelism: u.parallelism ?? 1,
      delay: readBackDuration(u.delay ?? "0s"),
      failureAction: u.failureAction ?? "pause",
      monitor: readBackDuration(u.monitor ?? "5s"),
      maxFailureRatio: Number.parseFloat(String(u.maxFailureRatio ?? "0.0")).toFixed(1),
      order: u.order ?? "stop-first",
    };
  };

  // SK portallocator.go:201-245: host-mode ports are copied to Endpoint.Ports as configured; the
  // provider reads Endpoint, not Spec (K resource_docker_service_funcs.go:153-156, _structures.go:95-103).
  const ep = obj(inputs.endpointSpec);
  const ports = arr(ep.ports).map((p) => {
    const x = obj(p);
    return { name: "", protocol: x.protocol ?? "tcp", targetPort: x.targetPort, publishedPort: x.publishedPort ?? 0, publishMode: x.publishMode ?? "ingress" };
  });

  return {
    name: inputs.name,
    labels: labelSet(inputs.labels),
    taskSpec: {
      containerSpec,
      resources: {
        limits: { nanoCpus: lim.nanoCpus ?? 0, memoryBytes: lim.memoryBytes ?? 0 },
        reservation: { nanoCpus: rsv.nanoCpus ?? 0, memoryBytes: rsv.memoryBytes ?? 0, genericResources: [] },
      },
      restartPolicy,
      placement,
      forceUpdate: 0,
      ...(networks.length > 0 ? { networksAdvanceds: networks } : {}),
    },
    mode: flatMode,
    ...(inputs.updateConfig !== undefined ? { updateConfig: policy(inputs.updateConfig) } : {}),
    ...(inputs.rollbackConfig !== undefined ? { rollbackConfig: policy(inputs.rollbackConfig) } : {}),
    endpointSpec: { mode: ep.mode ?? "vip", ports },
    // Read never sets converge_config: the state keeps the planned value.
    ...(inputs.convergeConfig !== undefined ? { convergeConfig: inputs.convergeConfig } : {}),
  };
}

// ---------------------------------------------------------------------------
// docker_network (K resource_docker_network_funcs.go:26-80, 147-200; _structures.go:10-38).

const VXLAN = "com.docker.network.driver.overlay.vxlanid_list";

function networkAfterCreate(inputs: Obj, vniInUse: Set<number>): Obj {
  known("network", inputs, ["name", "driver", "attachable", "internal", "options", "labels", "ipamConfigs"]);
  const options = Object.fromEntries(Object.entries(obj(inputs.options)).map(([k, v]) => [k, String(v)]));
  // M libnetwork/drivers/overlay/ovmanager/ovmanager.go:78-126: a VNI named in the options is
  // taken (and refused when in use); otherwise the next free one from 4096 up; either way the
  // driver state reports it, and the manager returns the driver state's options (M
  // daemon/cluster/convert/network.go:178-181).
  let vni = options[VXLAN] !== undefined ? Number(options[VXLAN]) : 4096;
  if (options[VXLAN] !== undefined) assert.ok(!vniInUse.has(vni), `${String(inputs.name)}: VNI ${vni} is in use in the swarm already`);
  else while (vniInUse.has(vni)) vni++;
  vniInUse.add(vni);
  const ipam = arr(inputs.ipamConfigs);
  // M libnetwork/cnmallocator/networkallocator.go:847-935 allocates a subnet from the pool when none
  // is named, and the gateway: the first free address, the network address being reserved
  // (M libnetwork/ipams/defaultipam/allocator.go:225-236), so the first host.
  const subnets = ipam.length > 0 ? ipam.map((c) => String(obj(c).subnet)) : [`10.0.${vni % 256}.0/24`];
  const firstHost = (cidr: string): string => {
    const [addr] = cidr.split("/");
    const parts = addr.split(".").map(Number);
    parts[3] += 1;
    return parts.join(".");
  };
  return {
    name: inputs.name,
    labels: labelSet(inputs.labels),
    driver: inputs.driver ?? "bridge",
    options: { ...options, [VXLAN]: String(vni) },
    internal: inputs.internal ?? false,
    attachable: inputs.attachable ?? false,
    ingress: false,
    ipv6: false,
    ipamDriver: "default",
    ipamConfigs: subnets.map((subnet, i) => {
      const given = obj(ipam[i]);
      return { subnet, gateway: given.gateway ?? firstHost(subnet), ...(given.ipRange ? { ipRange: given.ipRange } : {}) };
    }),
    scope: "swarm",
  };
}

/** docker_secret: Read sets the name only (K resource_docker_secret.go:120-138); data and labels stay as planned. */
function secretAfterCreate(inputs: Obj): Obj {
  known("secret", inputs, ["name", "data", "labels"]);
  return { name: inputs.name, data: inputs.data, labels: labelSet(inputs.labels) };
}

/** docker_config: Read re-encodes the data with standard base64 (K resource_docker_config.go:95-120). */
function configAfterCreate(inputs: Obj): Obj {
  known("config", inputs, ["name", "data", "labels"]);
  return { name: inputs.name, data: Buffer.from(String(inputs.data), "base64").toString("base64"), labels: labelSet(inputs.labels) };
}

// ---------------------------------------------------------------------------
// The schemas, as far as the diff needs them (K resource_docker_service.go:21-988,
// resource_docker_network.go:17-144, resource_docker_secret.go:22-46, resource_docker_config.go:26-56).

type Attr =
  | { kind: "scalar"; default?: Json; computed?: boolean; forceNew?: boolean; sameAs?: (a: Json, b: Json) => boolean }
  | { kind: "list" | "set"; elem: Attr; computed?: boolean; forceNew?: boolean }
  | { kind: "map"; computed?: boolean; forceNew?: boolean }
  | { kind: "block"; fields: Record<string, Attr>; computed?: boolean; forceNew?: boolean };

const S = (o: Omit<Extract<Attr, { kind: "scalar" }>, "kind"> = {}): Attr => ({ kind: "scalar", ...o });
const L = (elem: Attr, o: { computed?: boolean; forceNew?: boolean } = {}): Attr => ({ kind: "list", elem, ...o });
const SET = (elem: Attr, o: { computed?: boolean; forceNew?: boolean } = {}): Attr => ({ kind: "set", elem, ...o });
const MAP = (o: { computed?: boolean; forceNew?: boolean } = {}): Attr => ({ kind: "map", ...o });
const B = (fields: Record<string, Attr>, o: { computed?: boolean; forceNew?: boolean } = {}): Attr => ({ kind: "block", fields, ...o });

/** K helpers.go:76-77 newLabelSchema(forceNew). */
const LABELS = (forceNew: boolean): Attr => B({ label: S({ forceNew }), value: S({ forceNew }) });
/** K validators.go:76-90: ratios compare as numbers. */
const sameRatio = (a: Json, b: Json): boolean => Number.parseFloat(String(a)) === Number.parseFloat(String(b));
const FILE_REF = (id: string, name: string): Attr => B({ [id]: S(), [name]: S(), fileName: S(), fileUid: S({ default: "0" }), fileGid: S({ default: "0" }), fileMode: S({ default: 0o444 }) });
const POLICY: Attr = B({
  parallelism: S({ default: 1 }), delay: S({ default: "0s" }), failureAction: S({ default: "pause" }), monitor: S({ default: "5s" }),
  maxFailureRatio: S({ default: "0.0", sameAs: sameRatio }), order: S({ default: "stop-first" }),
});

const SERVICE_SCHEMA: Attr = B({
  name: S({ forceNew: true }),
  labels: SET(LABELS(false), { computed: true }),
  taskSpec: B({
    containerSpec: B({
      image: S(),
      labels: SET(LABELS(true)),
      commands: L(S()),
      args: L(S()),
      hostname: S(),
      env: MAP(),
      user: S(),
      readOnly: S(),
      capAdds: L(S()),
      capDrops: L(S()),
      mounts: SET(B({
        target: S(), source: S(), type: S(), readOnly: S(),
        bindOptions: B({ propagation: S({ default: "rprivate" }) }),
        volumeOptions: B({ noCopy: S(), labels: SET(LABELS(true)), driverName: S(), driverOptions: MAP() }),
        tmpfsOptions: B({ sizeBytes: S(), mode: S() }),
      })),
      stopGracePeriod: S({ computed: true }),
      healthcheck: B({ tests: L(S()), interval: S({ default: "0s" }), timeout: S({ default: "0s" }), startPeriod: S({ default: "0s" }), retries: S({ default: 0 }) }, { computed: true }),
      hosts: SET(B({ ip: S({ forceNew: true }), host: S({ forceNew: true }) }), { forceNew: true }),
      secrets: SET(FILE_REF("secretId", "secretName")),
      configs: SET(FILE_REF("configId", "configName")),
      isolation: S({ default: "default" }),
      sysctl: MAP({ forceNew: true }),
      init: S({ computed: true }),
    }),
    resources: B({
      limits: B({ nanoCpus: S(), memoryBytes: S() }),
      reservation: B({ nanoCpus: S(), memoryBytes: S(), genericResources: L(B({ namedResourcesSpecs: SET(S()), discreteResourcesSpecs: SET(S()) })) }),
    }, { computed: true }),
    restartPolicy: B({ condition: S(), delay: S(), maxAttempts: S(), window: S() }, { computed: true }),
    placement: B({
      constraints: SET(S()), prefs: SET(S()), maxReplicas: S(),
      platforms: SET(B({ architecture: S(), os: S() })),
    }, { computed: true }),
    forceUpdate: S({ computed: true }),
    runtime: S({ computed: true }),
    networksAdvanceds: SET(B({ name: S({ forceNew: true }), id: S({ forceNew: true }), aliases: SET(S(), { forceNew: true }), driverOpts: SET(S(), { forceNew: true }) })),
  }),
  mode: B({ replicated: B({ replicas: S({ default: 1 }) }, { computed: true }), global: S({ default: false }) }, { computed: true, forceNew: true }),
  updateConfig: POLICY,
  rollbackConfig: POLICY,
  endpointSpec: B({
    mode: S({ computed: true }),
    ports: L(B({ name: S(), protocol: S({ default: "tcp" }), targetPort: S(), publishedPort: S({ computed: true }), publishMode: S({ default: "ingress" }) })),
  }, { computed: true }),
  convergeConfig: B({ delay: S({ default: "7s" }), timeout: S({ default: "3m" }) }),
});

const NETWORK_SCHEMA: Attr = B({
  name: S({ forceNew: true }),
  labels: SET(LABELS(true), { forceNew: true }),
  driver: S({ computed: true, forceNew: true }),
  options: MAP({ computed: true, forceNew: true }),
  internal: S({ computed: true, forceNew: true }),
  attachable: S({ forceNew: true }),
  ingress: S({ forceNew: true }),
  ipv6: S({ forceNew: true }),
  ipamDriver: S({ default: "default", forceNew: true }),
  ipamOptions: MAP({ forceNew: true }),
  ipamConfigs: SET(B({ subnet: S({ forceNew: true }), ipRange: S({ forceNew: true }), gateway: S({ forceNew: true }), auxAddress: MAP({ forceNew: true }) }), { computed: true, forceNew: true }),
  scope: S({ computed: true }),
});

const SECRET_SCHEMA: Attr = B({ name: S({ forceNew: true }), data: S({ forceNew: true }), labels: SET(LABELS(true), { forceNew: true }) });
const CONFIG_SCHEMA: Attr = B({ name: S({ forceNew: true }), data: S({ forceNew: true }), dataRaw: S({ forceNew: true }), labels: SET(LABELS(true), { forceNew: true }) });

// ---------------------------------------------------------------------------
// The diff, as SDK v2 plans it: a value the config leaves out takes the schema default,
// or is no change when Computed, or is compared with the zero value; a set compares its
// elements whole (a changed element is removed and re-added, SDK schema.go:1681-1682),
// so a ForceNew field anywhere in a changed element replaces the resource.

interface Change { readonly path: string; readonly replace: boolean }

const zeroOf = (a: Attr): Json => (a.kind === "scalar" ? undefined : a.kind === "map" || a.kind === "block" ? {} : []);
const hasForceNew = (a: Attr): boolean =>
  !!a.forceNew || (a.kind === "block" ? Object.values(a.fields).some(hasForceNew) : a.kind === "list" || a.kind === "set" ? hasForceNew(a.elem) : false);
const isZero = (v: Json): boolean => v === undefined || v === null || v === "" || v === 0 || v === false ||
  (Array.isArray(v) && v.length === 0) || (typeof v === "object" && !Array.isArray(v) && Object.keys(v as object).length === 0);

/** An element as its set hash sees it: every field present, defaults and zero values filled in, nested sets sorted. */
function canonical(a: Attr, v: Json): Json {
  switch (a.kind) {
    case "scalar": {
      // A field has one type, whose zero value ("", 0, false) is what an absent field hashes as.
      const x = v ?? a.default;
      return isZero(x) ? "" : typeof x === "number" || typeof x === "boolean" ? String(Number(x)) : String(x);
    }
    case "map": return Object.fromEntries(Object.entries(obj(v)).sort(([p], [q]) => p.localeCompare(q)).map(([k, x]) => [k, String(x)]));
    case "list": return arr(v).map((x) => canonical(a.elem, x));
    case "set": return arr(v).map((x) => JSON.stringify(canonical(a.elem, x))).sort();
    case "block": return Object.fromEntries(Object.keys(a.fields).sort().map((k) => [k, canonical(a.fields[k], obj(v)[k])]));
  }
}

function diff(a: Attr, config: Json, stored: Json, path: string, out: Change[]): void {
  if (config === undefined && a.kind !== "scalar") {
    if (a.computed || isZero(stored)) return;
    out.push({ path, replace: !!a.forceNew });
    return;
  }
  switch (a.kind) {
    case "scalar": {
      const n = config ?? a.default;
      if (n === undefined && a.computed) return;
      const same = a.sameAs ? a.sameAs(n ?? "", stored ?? "") : canonical(a, n) === canonical(a, stored ?? zeroOf(a));
      if (!same && !(isZero(n) && isZero(stored))) out.push({ path, replace: !!a.forceNew });
      return;
    }
    case "map": {
      if (JSON.stringify(canonical(a, config)) !== JSON.stringify(canonical(a, stored))) out.push({ path, replace: !!a.forceNew });
      return;
    }
    case "list": {
      const c = arr(config);
      const s = arr(stored);
      if (c.length !== s.length) { out.push({ path, replace: !!a.forceNew }); return; }
      c.forEach((x, i) => diff(a.elem, x, s[i], `${path}[${i}]`, out));
      return;
    }
    case "set": {
      const c = canonical(a, config) as string[];
      const s = canonical(a, stored) as string[];
      if (JSON.stringify(c) !== JSON.stringify(s)) out.push({ path, replace: !!a.forceNew || hasForceNew(a.elem) });
      return;
    }
    case "block": {
      const c = obj(config);
      const unknownKeys = Object.keys(c).filter((k) => !(k in a.fields));
      assert.deepEqual(unknownKeys, [], `${path}: fields the schema model does not know`);
      for (const [k, f] of Object.entries(a.fields)) diff(f, c[k], obj(stored)[k], path ? `${path}.${k}` : k, out);
    }
  }
}

/** Pulumi's ignoreChanges: the stored value replaces the input at each path before the diff (docs/provider-facts.md §1 fact 10). */
function withIgnored(inputs: Obj, stored: Obj, paths: readonly string[]): Obj {
  const copy = JSON.parse(JSON.stringify(inputs)) as Obj;
  for (const p of paths) {
    const keys = p.split(".");
    let from: Json = stored;
    let to: Obj = copy;
    for (const k of keys.slice(0, -1)) {
      from = obj(from)[k];
      to = (to[k] ??= {}) as Obj;
    }
    const last = keys[keys.length - 1];
    const v = obj(from)[last];
    if (v === undefined) delete to[last];
    else to[last] = v;
  }
  return copy;
}

const TYPES = {
  service: "docker:index/service:Service",
  network: "docker:index/network:Network",
  secret: "docker:index/secret:Secret",
  config: "docker:index/serviceConfig:ServiceConfig",
} as const;

interface ReadBack { readonly resource: RecordedResource; readonly inputs: Obj; readonly stored: Obj; readonly schema: Attr }

/** Every Docker object of a run, created once (networks in declaration order, sharing the swarm's VNIs). */
function createAll(run: ProgramRun): ReadBack[] {
  const vnis = new Set<number>([4096]); // the `ingress` network's, taken at swarm init
  const out: ReadBack[] = [];
  for (const r of run.resources) {
    const inputs = reveal(r.inputs) as Obj;
    if (r.type === TYPES.network) out.push({ resource: r, inputs, stored: networkAfterCreate(inputs, vnis), schema: NETWORK_SCHEMA });
    if (r.type === TYPES.service) out.push({ resource: r, inputs, stored: serviceAfterCreate(inputs), schema: SERVICE_SCHEMA });
    if (r.type === TYPES.secret) out.push({ resource: r, inputs, stored: secretAfterCreate(inputs), schema: SECRET_SCHEMA });
    if (r.type === TYPES.config) out.push({ resource: r, inputs, stored: configAfterCreate(inputs), schema: CONFIG_SCHEMA });
  }
  return out;
}

function nextDiff(rb: ReadBack, inputs: Obj = rb.inputs, ignoreChanges: readonly string[] = rb.resource.options.ignoreChanges ?? []): Change[] {
  const changes: Change[] = [];
  diff(rb.schema, withIgnored(inputs, rb.stored, ignoreChanges), rb.stored, "", changes);
  return changes;
}

// ---------------------------------------------------------------------------

function state(args: { type: string; name: string }): Record<string, unknown> | undefined {
  if (args.type === "hcloud:index/floatingIp:FloatingIp") return { ipAddress: "203.0.113.7" };
  if (args.type === "hcloud:index/server:Server") return { ipv4Address: `198.51.100.${10 + Number(/(\d+)$/.exec(args.name)![1])}` };
  if (args.type === "command:remote:Command") return { stdout: "SWMTKN-1-test-token", stderr: "" };
  return undefined;
}

const runs: Partial<Record<"test" | "prod", ProgramRun>> = {};
before(async () => {
  for (const stack of ["test", "prod"] as const) runs[stack] = await runProgram(stack, stackFileConfig(stack), { state });
});
const get = (stack: "test" | "prod"): ProgramRun => {
  const r = runs[stack];
  assert.ok(r);
  return r;
};

for (const stack of ["test", "prod"] as const) {
  void describe(`after pulumi up (${stack}): the next preview shows no change`, () => {
    void test("every docker Service, Network, Secret and ServiceConfig reads back as declared, but the image of a service that runs a bare tag", () => {
      const all = createAll(get(stack));
      const counts = Object.fromEntries(Object.values(TYPES).map((t) => [t, all.filter((x) => x.resource.type === t).length]));
      for (const [t, n] of Object.entries(counts)) assert.ok(n > 0, `${stack} declares no ${t}`);
      const changed = all.map((rb) => [rb.resource.name, nextDiff(rb)] as const).filter(([, c]) => c.length > 0);
      // The one change left is the image of the services whose image setting carries no digest (named by
      // a plan warning, next describe): an in-place update, never a replacement.
      const bareTag = all.filter((rb) => rb.resource.type === TYPES.service && !/@sha256:/.test(String(obj(obj(rb.inputs.taskSpec).containerSpec).image)));
      assert.deepEqual(changed, bareTag.map((rb) => [rb.resource.name, [{ path: "taskSpec.containerSpec.image", replace: false }]]));
      const warned = new Set(partWarnings(get(stack).platform).map((w) => /^image\w+ is (\S+), a tag without a digest/.exec(w)?.[1]).filter((x) => x !== undefined));
      assert.deepEqual(new Set(bareTag.map((rb) => String(obj(obj(rb.inputs.taskSpec).containerSpec).image))), warned);
    });

    void test("with every image pinned by digest, nothing changes at all", () => {
      const pinned = createAll(get(stack)).map((rb) => {
        if (rb.resource.type !== TYPES.service) return rb;
        const cs = obj(obj(rb.inputs.taskSpec).containerSpec);
        const image = String(cs.image);
        if (/@sha256:/.test(image)) return rb;
        const inputs = { ...rb.inputs, taskSpec: { ...obj(rb.inputs.taskSpec), containerSpec: { ...cs, image: `${image}@${registryDigest(image)}` } } };
        return { ...rb, inputs, stored: serviceAfterCreate(inputs) };
      });
      assert.deepEqual(pinned.map((rb) => [rb.resource.name, nextDiff(rb)] as const).filter(([, c]) => c.length > 0), []);
    });
  });
}

void describe("the read-back model sees what it must", () => {
  const service = (name: string): ReadBack => {
    const rb = createAll(get("prod")).find((x) => x.resource.name === `platform-svc-${name}`);
    assert.ok(rb, name);
    return rb;
  };
  const edit = (o: Obj, path: string, value: Json): Obj => {
    const copy = JSON.parse(JSON.stringify(o)) as Obj;
    const keys = path.split(".");
    let at = copy;
    for (const k of keys.slice(0, -1)) at = at[k] as Obj;
    at[keys[keys.length - 1]] = value;
    return copy;
  };

  void test("a deliberate change after up is an update, or a replacement where the provider forces one", () => {
    const redis = service("redis-1");
    const image = String(obj(obj(redis.inputs.taskSpec).containerSpec).image);
    assert.deepEqual(nextDiff(redis, edit(redis.inputs, "taskSpec.containerSpec.image", image.replace("7.4.2", "7.4.3"))), [{ path: "taskSpec.containerSpec.image", replace: false }]);
    assert.deepEqual(nextDiff(redis, edit(redis.inputs, "taskSpec.containerSpec.healthcheck.retries", 5)), [{ path: "taskSpec.containerSpec.healthcheck.retries", replace: false }]);
    const grafana = service("grafana");
    assert.deepEqual(nextDiff(grafana, edit(grafana.inputs, "mode.replicated.replicas", 2)), [{ path: "mode.replicated.replicas", replace: false }]);
    // A volume mount carries labels, which are ForceNew inside the mounts set.
    const mounts = arr(obj(obj(redis.inputs.taskSpec).containerSpec).mounts).map((m) => (obj(m).type === "volume" ? { ...obj(m), readOnly: true } : m));
    assert.deepEqual(nextDiff(redis, edit(redis.inputs, "taskSpec.containerSpec.mounts", mounts)), [{ path: "taskSpec.containerSpec.mounts", replace: true }]);
    const net = createAll(get("prod")).find((x) => x.resource.name === "platform-net-backend");
    assert.ok(net);
    assert.deepEqual(nextDiff(net, edit(net.inputs, "options", { ...obj(net.inputs.options), "com.docker.network.driver.mtu": "1450" })), [{ path: "options", replace: true }]);
  });

  void test("the forms the provider rewrites are seen: what today's inputs avoid would diff", () => {
    const prom = service("prometheus");
    const cadvisor = service("cadvisor");
    const redis = service("redis-1");
    // "60s" is read back "1m".
    assert.deepEqual(nextDiff(prom, edit(prom.inputs, "taskSpec.containerSpec.stopGracePeriod", "60s")), [{ path: "taskSpec.containerSpec.stopGracePeriod", replace: false }]);
    // A bare tag is read back with the index digest.
    assert.deepEqual(nextDiff({ ...cadvisor, stored: serviceAfterCreate(edit(cadvisor.inputs, "taskSpec.containerSpec.image", "gcr.io/cadvisor/cadvisor:v0.49.1")) }, edit(cadvisor.inputs, "taskSpec.containerSpec.image", "gcr.io/cadvisor/cadvisor:v0.49.1")),
      [{ path: "taskSpec.containerSpec.image", replace: false }]);
    // The platforms the client filled in diff without ignoreChanges.
    assert.deepEqual(nextDiff(redis, redis.inputs, []), [{ path: "taskSpec.placement.platforms", replace: false }]);
    // A tmpfs mode 0o1777 comes back 0o777; inside the mounts set, next to a labelled volume mount, so a replacement.
    const sticky = arr(obj(obj(redis.inputs.taskSpec).containerSpec).mounts).map((m) => (obj(m).type === "tmpfs" ? { ...obj(m), tmpfsOptions: { ...obj(obj(m).tmpfsOptions), mode: 0o1777 } } : m));
    const stickyInputs = edit(redis.inputs, "taskSpec.containerSpec.mounts", sticky);
    assert.deepEqual(nextDiff({ ...redis, stored: serviceAfterCreate(stickyInputs) }, stickyInputs), [{ path: "taskSpec.containerSpec.mounts", replace: true }]);
    // A network without its VNI gets an automatic one, and its options are ForceNew.
    const net = createAll(get("prod")).find((x) => x.resource.name === "platform-net-edge");
    assert.ok(net);
    const { [VXLAN]: _vni, ...noVni } = obj(net.inputs.options);
    const bare = { ...net.inputs, options: noVni, ipamConfigs: [{ subnet: "10.128.255.0/24" }] };
    assert.deepEqual(nextDiff({ ...net, stored: networkAfterCreate(bare, new Set([4096])) }, bare), [{ path: "options", replace: true }, { path: "ipamConfigs", replace: true }]);
  });

  void test("two networks naming the same VNI cannot both be created", () => {
    const vnis = new Set<number>();
    networkAfterCreate({ name: "a", driver: "overlay", options: { [VXLAN]: "1001" } }, vnis);
    assert.throws(() => networkAfterCreate({ name: "b", driver: "overlay", options: { [VXLAN]: "1001" } }, vnis), /VNI 1001 is in use/);
  });
});

void describe("the spec refuses forms Docker reads back differently", () => {
  const base = (): ServiceSpec => get("prod").platform.spec.services.find((s) => s.name === "prometheus")!;
  const spec = (s: ServiceSpec) => ({ networks: [], volumes: [], secrets: [], configs: [], services: [s] });

  void test("every service of both stacks passes (mergePlatform checks them)", () => {
    for (const stack of ["test", "prod"] as const) assert.doesNotThrow(() => mergePlatform(get(stack).platform.spec));
  });

  void test("a duration not in Go's trimmed form, a tmpfs mode above 0o777 and a two-decimal ratio are programming errors", () => {
    assert.throws(() => mergePlatform(spec({ ...base(), stopGracePeriod: "60s" })),
      { message: 'service prometheus: stopGracePeriod "60s" is read back as "1m": write "1m"' });
    assert.throws(() => mergePlatform(spec({ ...base(), healthcheck: { ...base().healthcheck, startPeriod: "1h0m0s", interval: "90s" } })),
      { message: 'service prometheus: healthcheck.interval "90s" is read back as "1m30s": write "1m30s"; healthcheck.startPeriod "1h0m0s" is read back as "1h": write "1h"' });
    assert.throws(() => mergePlatform(spec({ ...base(), restartPolicy: { ...base().restartPolicy, window: "two minutes" } })),
      { message: 'service prometheus: restartPolicy.window "two minutes" is no Go duration (e.g. "30s", "1m30s")' });
    assert.throws(() => mergePlatform(spec({ ...base(), mounts: [{ type: "tmpfs", source: "", target: "/run/x", readOnly: false, tmpfsMode: 0o1777 }] })),
      { message: "service prometheus: tmpfs /run/x mode 0o1777 is read back as 0o777: use permission bits only (at most 0o777)" });
    assert.throws(() => mergePlatform(spec({ ...base(), update: { ...base().update, maxFailureRatio: 0.25 } })),
      { message: "service prometheus: update.maxFailureRatio 0.25 is read back with one decimal: use 0, 0.1, ... 1" });
  });

  void test("mountArgs refuses a tmpfs mode above 0o777 on its own", () => {
    assert.throws(() => mountArgs({ type: "tmpfs", source: "", target: "/run/x", readOnly: false, tmpfsMode: 0o1777 }, new Map()),
      { message: "tmpfs mount /run/x: mode 0o1777 is above 0o777; Docker keeps the permission bits only and the mode would differ on every preview" });
    assert.deepEqual(mountArgs({ type: "tmpfs", source: "", target: "/run/x", readOnly: false, tmpfsSizeBytes: 1024, tmpfsMode: 0o777 }, new Map()),
      { type: "tmpfs", target: "/run/x", readOnly: false, tmpfsOptions: { sizeBytes: 1024, mode: 0o777 } });
  });
});

void describe("images without a digest are accepted with a plan warning", () => {
  void test("the warning names the key, the cost and the command that finds the digest", () => {
    assert.deepEqual(unpinnedImageWarnings({ haproxy: "haproxy:3.0.7", redis: `redis:7.4.2@sha256:${"a".repeat(64)}` }), [
      "imageHaproxy is haproxy:3.0.7, a tag without a digest. When the Docker provider creates a service it records " +
      "haproxy:3.0.7@sha256:<index digest> (the registry's), so the preview after the first `pulumi up` shows an update of every service " +
      "that runs it (applying it restarts their tasks), and again after every re-create, until the digest is pinned; " +
      "the tag can also be re-pushed under the running service. " +
      "Find the digest with `docker buildx imagetools inspect haproxy:3.0.7 --format '{{json .Manifest.Digest}}'` and set imageHaproxy to haproxy:3.0.7@sha256:<digest>. " +
      "(An image that is in no registry, such as a locally built one, is recorded as given.)",
    ]);
    assert.equal(digestCommand("caddy:2.8.4"), "docker buildx imagetools inspect caddy:2.8.4 --format '{{json .Manifest.Digest}}'");
  });

  void test("the committed stacks warn exactly for the images no two sources pinned", () => {
    for (const stack of ["test", "prod"] as const) {
      const warned = partWarnings(get(stack).platform).map((w) => /^(image\w+) is /.exec(w)?.[1]).filter((k) => k !== undefined).sort();
      assert.deepEqual(warned, ["imageApisix", "imageApisixDashboard", "imageEdge", "imageEtcd", "imageHaproxy", "imageRabbitmq", "imageRedisExporter"], stack);
    }
  });
});
