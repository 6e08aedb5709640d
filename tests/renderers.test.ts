/**
 * The two renderers of one PlatformSpec agree: for every service of both stacks,
 * the docker stack file (as `docker stack config` reads it back, after its own
 * interpolation) and the @pulumi/docker inputs (under mocks) carry the same
 * image, replicas, placement, networks, secrets, configs, command, environment
 * and health check.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parse } from "yaml";
import { runProgram, type ProgramRun } from "../tools/mock-runtime";
import { stackFileConfig } from "./support/config";
import { haveTools, run } from "./support/real-processes";
import { renderCompose, type ComposeOutput } from "../render/compose";
import type { PlatformSpec } from "../core/model";

const SERVICE = "docker:index/service:Service";

function state(args: { type: string; name: string }): Record<string, unknown> | undefined {
  if (args.type === "hcloud:index/floatingIp:FloatingIp") return { ipAddress: "203.0.113.7" };
  if (args.type === "hcloud:index/server:Server") return { ipv4Address: `198.51.100.${10 + Number(/(\d+)$/.exec(args.name)![1])}` };
  if (args.type === "command:remote:Command") return { stdout: "SWMTKN-1-test-token", stderr: "" };
  return undefined;
}

interface PulumiService {
  name: string;
  mode: { replicated?: { replicas: number }; global?: boolean };
  endpointSpec: { mode: string };
  taskSpec: {
    containerSpec: {
      image: string;
      commands?: string[];
      args?: string[];
      env: Record<string, string>;
      readOnly?: boolean;
      capAdds?: string[];
      capDrops?: string[];
      secrets: { secretId: string; secretName: string; fileName: string; fileMode: number }[];
      configs: { configId: string; configName: string; fileName: string; fileMode: number }[];
      mounts: { type: string; source?: string; target: string }[];
      healthcheck: { tests: string[] };
    };
    networksAdvanceds: { id: string; aliases: string[] }[];
    placement: { constraints: string[]; prefs: string[]; maxReplicas?: number };
  };
}

interface ComposeService {
  image: string;
  read_only?: boolean;
  cap_add?: string[];
  cap_drop?: string[];
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string>;
  secrets?: { source: string; target: string; mode: number }[];
  configs?: { source: string; target: string; mode: number }[];
  volumes?: { type: string; source?: string; target: string }[];
  networks: Record<string, { aliases?: string[] } | null>;
  healthcheck: { test: string[] };
  deploy: {
    mode?: string;
    replicas?: number;
    endpoint_mode: string;
    placement?: { constraints?: string[]; preferences?: { spread: string }[]; max_replicas_per_node?: number };
  };
}

interface ComposeDoc {
  services: Record<string, ComposeService>;
  networks: Record<string, { name: string; driver_opts?: Record<string, string>; ipam?: { config: { subnet: string }[] } }>;
  volumes?: Record<string, { name: string }>;
  secrets?: Record<string, { name: string; file: string }>;
  configs?: Record<string, { name: string; file: string }>;
}

const dir = mkdtempSync(join(tmpdir(), "renderers-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const rendered: Partial<Record<"test" | "prod", { run: ProgramRun; spec: PlatformSpec; compose: ComposeOutput; folder: string }>> = {};

before(async () => {
  for (const stack of ["test", "prod"] as const) {
    const r = await runProgram(stack, stackFileConfig(stack), { state });
    const spec = r.platform.spec;
    // The same values the mocked @pulumi/random hands out, so secret names compare too.
    const secretValues = Object.fromEntries(spec.secrets.filter((s) => s.source.kind === "random").map((s) => [s.key, `mock-password-platform-${s.key}`]));
    const compose = renderCompose(spec, { secrets: "file", secretValues, stackName: r.config.namePrefix });
    const folder = join(dir, stack);
    const write = (path: string, content: string): void => {
      mkdirSync(dirname(join(folder, path)), { recursive: true });
      writeFileSync(join(folder, path), content);
    };
    write("docker-stack.yml", compose.yaml);
    for (const [path, content] of Object.entries(compose.files)) write(path, content);
    // Secrets from settings (not generated) get a stand-in file.
    for (const path of compose.missingSecretFiles) write(path, "stand-in\n");
    rendered[stack] = { run: r, spec, compose, folder };
  }
});

void test("the stateful data services and the small jobs run read-only without capabilities", () => {
  const { spec } = get("prod");
  const locked = spec.services.filter((s) => s.hardening?.readOnlyRootFs && s.hardening.capDrop.includes("ALL")).map((s) => s.name).sort();
  for (const name of ["redis-1", "redis-sentinel-1", "redis", "etcd-1", "etcd-auth", "apisix-routes", "node-exporter"]) assert.ok(locked.includes(name), `${name} not locked down: ${locked.join(" ")}`);
});

const get = (stack: "test" | "prod"): NonNullable<(typeof rendered)["test"]> => {
  const r = rendered[stack];
  assert.ok(r);
  return r;
};

for (const stack of ["test", "prod"] as const) {
  void describe(`renderers agree (${stack})`, () => {
    void test("docker stack config accepts the stack file; every service matches its Pulumi service", async (t) => {
      if (!haveTools(t, ["docker"])) return;
      const { run: program, spec, folder } = get(stack);
      // No daemon is needed: point the CLI nowhere so it cannot reach one by accident.
      const r = await run("docker", ["stack", "config", "-c", join(folder, "docker-stack.yml")], { DOCKER_HOST: `unix://${join(folder, "no-daemon.sock")}` }, 30_000);
      assert.equal(r.code, 0, r.stderr);
      const doc = parse(r.stdout) as ComposeDoc;
      assert.deepEqual(Object.keys(doc.services).sort(), spec.services.map((s) => s.name).sort());

      const networkNameById = new Map(program.byType("docker:index/network:Network").map((n) => [`${n.name}-id`, String(n.inputs.name)]));
      const prefix = program.config.namePrefix;
      for (const s of spec.services) {
        const c = doc.services[s.name];
        const p = program.one(SERVICE, `platform-svc-${s.name}`).inputs as unknown as PulumiService;
        const what = `${stack}/${s.name}`;
        assert.ok(c && p?.taskSpec?.containerSpec, `${what}: in both renderings`);
        const cs = p.taskSpec.containerSpec;
        assert.equal(p.name, `${prefix}_${s.name}`, what);
        assert.equal(c.image, cs.image, `${what} image`);
        // Hardening: read-only root and capabilities, as the model says, in both.
        assert.deepEqual([c.read_only ?? false, c.cap_drop ?? [], c.cap_add ?? []], [cs.readOnly ?? false, cs.capDrops ?? [], cs.capAdds ?? []], `${what} hardening`);
        assert.deepEqual([cs.readOnly ?? false, cs.capDrops ?? [], cs.capAdds ?? []], [s.hardening?.readOnlyRootFs ?? false, s.hardening?.capDrop ?? [], s.hardening?.capAdd ?? []], `${what} hardening from the model`);
        // Replicas (or global), endpoint mode.
        if (p.mode.global) assert.equal(c.deploy.mode, "global", what);
        else assert.deepEqual([c.deploy.mode ?? "replicated", c.deploy.replicas], ["replicated", p.mode.replicated?.replicas], `${what} replicas`);
        assert.equal(c.deploy.endpoint_mode, p.endpointSpec.mode, `${what} endpoint mode`);
        // Placement.
        // (docker stack config leaves out what is empty.)
        assert.deepEqual(c.deploy.placement?.constraints ?? [], p.taskSpec.placement.constraints, `${what} constraints`);
        // The provider passes a preference verbatim as the spread descriptor, so Pulumi sends the bare descriptor.
        assert.deepEqual((c.deploy.placement?.preferences ?? []).map((x) => x.spread), p.taskSpec.placement.prefs, `${what} spread`);
        assert.equal(c.deploy.placement?.max_replicas_per_node, p.taskSpec.placement.maxReplicas, `${what} max per node`);
        // Networks by Swarm name (a stack file keeps them in a map: order carries no meaning), with
        // aliases (stack deploy adds the service's own name).
        const byName = (a: [string | undefined, string[]], b: [string | undefined, string[]]): number => String(a[0]).localeCompare(String(b[0]));
        assert.deepEqual(
          Object.entries(c.networks).map(([key, v]): [string | undefined, string[]] => [doc.networks[key].name, [...new Set([s.name, ...(v?.aliases ?? [])])].sort()]).sort(byName),
          p.taskSpec.networksAdvanceds.map((n): [string | undefined, string[]] => [networkNameById.get(n.id), [...n.aliases].sort()]).sort(byName),
          `${what} networks`,
        );
        // Secrets and configs: same Swarm object, same file, same mode. A generated secret has the
        // same name in both; one from a setting is named by a salted hash in Pulumi (the stack file
        // cannot know the salt), so it is compared by the secret it is.
        const secretOf = (swarmName: string | undefined): string => {
          const owner = spec.secrets.find((x) => swarmName === x.namePrefix || swarmName?.startsWith(`${x.namePrefix}_`));
          return owner?.source.kind === "random" ? String(swarmName) : `setting ${owner?.key}`;
        };
        assert.deepEqual(
          (c.secrets ?? []).map((x) => [secretOf(doc.secrets?.[x.source].name), x.target, x.mode]),
          cs.secrets.map((x) => [secretOf(x.secretName), x.fileName, x.fileMode]),
          `${what} secrets`,
        );
        assert.deepEqual(
          (c.configs ?? []).map((x) => [doc.configs?.[x.source].name, x.target, x.mode]),
          cs.configs.map((x) => [x.configName, x.fileName, x.fileMode]),
          `${what} configs`,
        );
        // Volumes by name, tmpfs by target.
        assert.deepEqual(
          (c.volumes ?? []).map((v) => [v.type, v.type === "volume" ? doc.volumes?.[v.source ?? ""]?.name : v.source ?? null, v.target]),
          cs.mounts.map((m) => [m.type, m.source ?? null, m.target]),
          `${what} mounts`,
        );
        // After the stack file's own interpolation, commands, environment and health check are the Pulumi ones ($ survives).
        assert.deepEqual(c.entrypoint, cs.commands, `${what} entrypoint`);
        assert.deepEqual(c.command, cs.args, `${what} command`);
        assert.deepEqual(c.environment ?? {}, cs.env, `${what} environment`);
        assert.deepEqual(c.healthcheck.test, cs.healthcheck.tests, `${what} healthcheck`);
      }
      // Networks: the same driver options (VXLAN id included) and subnet in both.
      for (const n of program.byType("docker:index/network:Network")) {
        const inputs = n.inputs as { name: string; options: Record<string, string>; ipamConfigs?: { subnet: string }[] };
        const c = Object.values(doc.networks).find((x) => x.name === inputs.name);
        assert.ok(c, inputs.name);
        assert.deepEqual(c.driver_opts, inputs.options, `${inputs.name} options`);
        assert.deepEqual(c.ipam?.config.map((x) => x.subnet), inputs.ipamConfigs?.map((x) => x.subnet), `${inputs.name} subnet`);
      }
      // The config files the stack file refers to hold exactly the ServiceConfig data.
      for (const [key, cfg] of Object.entries(doc.configs ?? {})) {
        const pulumiConfig = program.one("docker:index/serviceConfig:ServiceConfig", `platform-config-${key}`).inputs;
        assert.equal(cfg.name, pulumiConfig.name);
        assert.equal(readFileSync(cfg.file, "utf8"), Buffer.from(String(pulumiConfig.data), "base64").toString("utf8"), key);
      }
    });

    void test("external secrets: named, not read from files", () => {
      const { spec } = get(stack);
      const out = renderCompose(spec, { secrets: "external" });
      const doc = parse(out.yaml) as ComposeDoc & { secrets: Record<string, { name: string; external: boolean }> };
      assert.deepEqual(Object.values(doc.secrets).map((s) => [s.name, s.external]), spec.secrets.map((s) => [s.namePrefix, true]));
      assert.deepEqual(out.missingSecretFiles, []);
      assert.ok(!Object.keys(out.files).some((f) => f.startsWith("secrets/")));
    });
  });
}

void test("plan --format compose prints the stack file docker accepts", async (t) => {
  if (!haveTools(t, ["docker"])) return;
  const out = join(dir, "plan-out");
  const r = await run(process.execPath, ["--import", "tsx", join(__dirname, "..", "tools", "plan.ts"), "--stack", "prod", "--format", "compose", "--out", out], {}, 60_000);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, readFileSync(join(out, "docker-stack.yml"), "utf8"));
  assert.match(r.stderr, /secret files, which you provide: secrets\/redis-password/);
  const doc = parse(r.stdout) as ComposeDoc;
  assert.deepEqual(doc.services["redis-2"].deploy.placement?.constraints, ["node.hostname == prod-app-02"]);
  assert.equal(doc.secrets?.["redis-password"].name, "prod_redis-password");
});
