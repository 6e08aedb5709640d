/**
 * The Pulumi docker renderer under mocks: the exact inputs of the docker
 * resources the data services become, for both stacks, and the rules every
 * platform resource follows (provider, parent, secrets, convergence).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { before, describe, test } from "node:test";
import { runProgram, SecretValue, type ProgramRun, type RecordedResource } from "../tools/mock-runtime";
import { stackFileConfig, withOverrides } from "./support/config";
import type { PlatformSpec } from "../core/model";
import { GiB, MiB } from "../lib/size";

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SERVICE = "docker:index/service:Service";
const NETWORK = "docker:index/network:Network";
const SECRET = "docker:index/secret:Secret";
const CONFIG = "docker:index/serviceConfig:ServiceConfig";
const RANDOM = "random:index/randomPassword:RandomPassword";

function state(args: { type: string; name: string }): Record<string, unknown> | undefined {
  if (args.type === "hcloud:index/floatingIp:FloatingIp") return { ipAddress: "203.0.113.7" };
  if (args.type === "hcloud:index/server:Server") return { ipv4Address: `198.51.100.${10 + Number(/(\d+)$/.exec(args.name)![1])}` };
  if (args.type === "command:remote:Command") return { stdout: "SWMTKN-1-test-token", stderr: "" };
  return undefined;
}

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");
const labels = (o: Record<string, string>): { label: string; value: string }[] => Object.entries(o).map(([label, value]) => ({ label, value }));
/** A secret input as the engine receives it. */
const secret = (value: unknown): Record<string, unknown> => ({ [SECRET_SIG]: "1b47061264138c4ac30d75fd1eb44270", value });

const STATEFUL_UPDATE = { parallelism: 1, delay: "10s", failureAction: "rollback", monitor: "30s", maxFailureRatio: "0", order: "stop-first" };
const STATEFUL_ROLLBACK = { ...STATEFUL_UPDATE, failureAction: "pause" };
const STATELESS_UPDATE = { parallelism: 1, delay: "5s", failureAction: "rollback", monitor: "20s", maxFailureRatio: "0", order: "start-first" };
const RESTART = { condition: "any", delay: "5s", maxAttempts: 0, window: "2m" };
/** The default Redis image, by index digest (docs/provider-facts.md §3 fact 8). */
const REDIS_IMAGE = "redis:7.4.2@sha256:fbdbaea47b9ae4ecc2082ecdb4e1cea81e32176ffb1dcf643d422ad07427e5d9";
/** The health user has no password and may only PING and ROLE: the check holds no secret. */
const REDIS_PING = (port: number): string[] => ["CMD-SHELL", `redis-cli -p ${port} --user health --pass health --no-auth-warning ping | grep -q PONG`];

const runs: Partial<Record<"test" | "prod", { run: ProgramRun; spec: PlatformSpec }>> = {};
const get = (stack: "test" | "prod"): { run: ProgramRun; spec: PlatformSpec } => {
  const r = runs[stack];
  assert.ok(r, `no run for ${stack}`);
  return r;
};
const configName = (spec: PlatformSpec, key: string): string => {
  const c = spec.configs.find((x) => x.key === key);
  assert.ok(c, key);
  return c.name;
};
/** A random secret's name: its stem and the first 10 hex digits of the SHA-256 of its (mock) value. */
const passwordName = (stack: string, key: string): string =>
  `${stack}_${key}_${createHash("sha256").update(`mock-password-platform-${key}`).digest("hex").slice(0, 10)}`;

before(async () => {
  for (const stack of ["test", "prod"] as const) {
    const run = await runProgram(stack, stackFileConfig(stack), { state });
    runs[stack] = { run, spec: run.platform.spec };
  }
});

void describe("Services: exact docker inputs", () => {
  void test("prod redis-1: pinned data member with its volume, tmpfs, secret file and configs", () => {
    const { run, spec } = get("prod");
    assert.deepEqual(run.one(SERVICE, "platform-svc-redis-1").inputs, {
      name: "prod_redis-1",
      labels: labels({ "swarm-platform.stack": "prod", "swarm-platform.component": "redis", "swarm-platform.member": "redis-1" }),
      taskSpec: {
        containerSpec: {
          image: REDIS_IMAGE,
          commands: ["/etc/redis/redis-member.sh"],
          env: {
            REDIS_ACL_LIB: "/etc/redis/redis-acl.sh",
            REDIS_ACL_TEMPLATE: "/etc/redis/users.acl.tmpl",
            REDIS_ACL_USER_FILES: "admin=/run/secrets/redis-password replication=/run/secrets/redis-replication-password sentinel=/run/secrets/redis-sentinel-password apisix-ratelimit=/run/secrets/redis-ratelimit-password",
            REDIS_REPLICATION_USER: "replication",
            REDIS_REPLICATION_PASSWORD_FILE: "/run/secrets/redis-replication-password",
            REDIS_HEALTH_USER: "health",
            REDIS_CONFIG: "/etc/redis/redis.conf",
            REDIS_RUNTIME_DIR: "/run/redis",
            REDIS_DATA_DIR: "/data",
            REDIS_ANNOUNCE_HOST: "redis-1",
            REDIS_PORT: "6379",
            REDIS_SENTINELS: "redis-sentinel-1:26379 redis-sentinel-2:26379 redis-sentinel-3:26379",
            REDIS_MASTER_NAME: "platform",
            REDIS_FIRST_MASTER: "redis-1:6379",
            REDIS_DISCOVERY_TIMEOUT: "90",
          },
          hostname: "redis-1",
          user: "redis",
          // Writes go to its volume and tmpfs only; no capability.
          readOnly: true,
          capDrops: ["ALL"],
          secrets: ["redis-password", "redis-replication-password", "redis-sentinel-password", "redis-ratelimit-password"].map((key) =>
            ({ secretId: `platform-secret-${key}-id`, secretName: passwordName("prod", key), fileName: `/run/secrets/${key}`, fileMode: 0o444 })),
          configs: [
            { configId: "platform-config-redis-conf-id", configName: configName(spec, "redis-conf"), fileName: "/etc/redis/redis.conf", fileMode: 0o444 },
            { configId: "platform-config-redis-member-sh-id", configName: configName(spec, "redis-member-sh"), fileName: "/etc/redis/redis-member.sh", fileMode: 0o555 },
            { configId: "platform-config-redis-acl-sh-id", configName: configName(spec, "redis-acl-sh"), fileName: "/etc/redis/redis-acl.sh", fileMode: 0o444 },
            { configId: "platform-config-redis-users-acl-id", configName: configName(spec, "redis-users-acl"), fileName: "/etc/redis/users.acl.tmpl", fileMode: 0o444 },
          ],
          mounts: [
            {
              type: "volume",
              source: "prod_redis-1-data",
              target: "/data",
              readOnly: false,
              volumeOptions: { driverName: "local", labels: labels({ "swarm-platform.stack": "prod", "swarm-platform.component": "redis" }) },
            },
            { type: "tmpfs", target: "/run/redis", readOnly: false, tmpfsOptions: { sizeBytes: MiB, mode: 0o777 } },
          ],
          healthcheck: { tests: REDIS_PING(6379), interval: "10s", timeout: "5s", retries: 3, startPeriod: "2m" },
          stopGracePeriod: "30s",
        },
        networksAdvanceds: [
          { id: "platform-net-platform-id", aliases: ["redis-1"] },
          { id: "platform-net-backend-id", aliases: ["redis-1"] },
        ],
        placement: { constraints: ["node.hostname == prod-app-01"], prefs: [] },
        resources: { limits: { nanoCpus: 1e9, memoryBytes: 2 * GiB }, reservation: { nanoCpus: 1e8, memoryBytes: GiB } },
        restartPolicy: RESTART,
      },
      mode: { replicated: { replicas: 1 } },
      endpointSpec: { mode: "dnsrr", ports: [] },
      updateConfig: STATEFUL_UPDATE,
      rollbackConfig: STATEFUL_ROLLBACK,
      convergeConfig: { delay: "7s", timeout: "10m" },
    });
  });

  void test("prod redis-sentinel-2: announces its hostname, stable id, quorum 2", () => {
    const { run, spec } = get("prod");
    const sentinel = spec.services.find((s) => s.name === "redis-sentinel-2");
    assert.ok(sentinel);
    assert.deepEqual(run.one(SERVICE, "platform-svc-redis-sentinel-2").inputs.taskSpec, {
      containerSpec: {
        image: REDIS_IMAGE,
        commands: ["/etc/redis/redis-sentinel.sh"],
        env: {
          REDIS_ACL_LIB: "/etc/redis/redis-acl.sh",
          SENTINEL_ACL_TEMPLATE: "/etc/redis/sentinel-users.tmpl",
          REDIS_ACL_USER_FILES: "sentinel=/run/secrets/redis-sentinel-password admin=/run/secrets/redis-password",
          SENTINEL_USER: "sentinel",
          SENTINEL_PASSWORD_FILE: "/run/secrets/redis-sentinel-password",
          REDIS_HEALTH_USER: "health",
          SENTINEL_CONFIG: "/etc/redis/sentinel.conf",
          SENTINEL_RUNTIME_DIR: "/run/sentinel",
          SENTINEL_ANNOUNCE_HOST: "redis-sentinel-2",
          SENTINEL_PORT: "26379",
          SENTINEL_MYID: sentinel.env.SENTINEL_MYID,
          REDIS_SENTINELS: "redis-sentinel-1:26379 redis-sentinel-2:26379 redis-sentinel-3:26379",
          REDIS_MEMBERS: "redis-1:6379 redis-2:6379 redis-3:6379",
          REDIS_MASTER_NAME: "platform",
          REDIS_QUORUM: "2",
          REDIS_FIRST_MASTER: "redis-1:6379",
        },
        hostname: "redis-sentinel-2",
        user: "redis",
        readOnly: true,
        capDrops: ["ALL"],
        secrets: ["redis-sentinel-password", "redis-password"].map((key) =>
          ({ secretId: `platform-secret-${key}-id`, secretName: passwordName("prod", key), fileName: `/run/secrets/${key}`, fileMode: 0o444 })),
        configs: [
          { configId: "platform-config-redis-sentinel-conf-id", configName: configName(spec, "redis-sentinel-conf"), fileName: "/etc/redis/sentinel.conf", fileMode: 0o444 },
          { configId: "platform-config-redis-sentinel-sh-id", configName: configName(spec, "redis-sentinel-sh"), fileName: "/etc/redis/redis-sentinel.sh", fileMode: 0o555 },
          { configId: "platform-config-redis-acl-sh-id", configName: configName(spec, "redis-acl-sh"), fileName: "/etc/redis/redis-acl.sh", fileMode: 0o444 },
          { configId: "platform-config-redis-sentinel-users-id", configName: configName(spec, "redis-sentinel-users"), fileName: "/etc/redis/sentinel-users.tmpl", fileMode: 0o444 },
        ],
        mounts: [{ type: "tmpfs", target: "/run/sentinel", readOnly: false, tmpfsOptions: { sizeBytes: MiB, mode: 0o777 } }],
        healthcheck: { tests: REDIS_PING(26379), interval: "10s", timeout: "5s", retries: 3, startPeriod: "30s" },
        stopGracePeriod: "10s",
      },
      networksAdvanceds: [
        { id: "platform-net-platform-id", aliases: ["redis-sentinel-2"] },
        { id: "platform-net-backend-id", aliases: ["redis-sentinel-2"] },
      ],
      placement: { constraints: ["node.hostname == prod-app-02"], prefs: [] },
      resources: { limits: { nanoCpus: 2.5e8, memoryBytes: 64 * MiB }, reservation: { nanoCpus: 2e7, memoryBytes: 16 * MiB } },
      restartPolicy: RESTART,
    });
  });

  void test("test redis: the stable endpoint, stateless, VIP, spread, one per node", () => {
    const { run, spec } = get("test");
    assert.deepEqual(run.one(SERVICE, "platform-svc-redis").inputs, {
      name: "test_redis",
      labels: labels({ "swarm-platform.stack": "test", "swarm-platform.component": "redis-endpoint" }),
      taskSpec: {
        containerSpec: {
          image: "haproxy:3.0.7",
          commands: ["/usr/local/etc/haproxy/redis-endpoint.sh"],
          env: { HAPROXY_CONFIG: "/usr/local/etc/haproxy/haproxy.cfg" },
          user: "haproxy",
          readOnly: true,
          capDrops: ["ALL"],
          secrets: [],
          configs: [
            { configId: "platform-config-redis-endpoint-cfg-id", configName: configName(spec, "redis-endpoint-cfg"), fileName: "/usr/local/etc/haproxy/haproxy.cfg", fileMode: 0o444 },
            { configId: "platform-config-redis-endpoint-sh-id", configName: configName(spec, "redis-endpoint-sh"), fileName: "/usr/local/etc/haproxy/redis-endpoint.sh", fileMode: 0o555 },
          ],
          mounts: [],
          healthcheck: {
            tests: ["CMD", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8404 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"],
            interval: "10s",
            timeout: "3s",
            retries: 3,
            startPeriod: "1m",
          },
          stopGracePeriod: "10s",
        },
        networksAdvanceds: [
          { id: "platform-net-platform-id", aliases: ["redis"] },
          { id: "platform-net-backend-id", aliases: ["redis"] },
        ],
        placement: { constraints: ["node.labels.type == service"], prefs: ["node.labels.location"], maxReplicas: 1 },
        resources: { limits: { nanoCpus: 5e8, memoryBytes: 128 * MiB }, reservation: { nanoCpus: 5e7, memoryBytes: 32 * MiB } },
        restartPolicy: RESTART,
      },
      mode: { replicated: { replicas: 2 } },
      endpointSpec: { mode: "vip", ports: [] },
      updateConfig: STATELESS_UPDATE,
      rollbackConfig: { ...STATELESS_UPDATE, failureAction: "pause" },
      convergeConfig: { delay: "7s", timeout: "5m" },
    });
  });

  void test("test rabbitmq-1: node name, cookie and admin password as files, definitions, plugins", () => {
    const { run, spec } = get("test");
    const inputs = run.one(SERVICE, "platform-svc-rabbitmq-1").inputs as { taskSpec: Record<string, unknown> };
    assert.deepEqual(inputs.taskSpec.containerSpec, {
      image: "rabbitmq:4.0.5-management",
      commands: ["/etc/rabbitmq/rabbitmq-node.sh"],
      env: {
        RABBITMQ_NODENAME: "rabbit@rabbitmq-1",
        RABBITMQ_ERLANG_COOKIE_SECRET: "/run/secrets/rabbitmq-erlang-cookie",
        RABBITMQ_ADMIN_USER: "admin",
        RABBITMQ_ADMIN_PASSWORD_FILE: "/run/secrets/rabbitmq-admin-password",
        RABBITMQ_DEFINITIONS_TEMPLATE: "/etc/rabbitmq/platform-definitions.json",
        RABBITMQ_RUNTIME_DIR: "/run/rabbitmq",
        RABBITMQ_CONFIG_FILE: "/etc/rabbitmq/rabbitmq.conf",
        RABBITMQ_ENABLED_PLUGINS_FILE: "/etc/rabbitmq/enabled_plugins",
      },
      hostname: "rabbitmq-1",
      user: "rabbitmq",
      secrets: [
        { secretId: "platform-secret-rabbitmq-erlang-cookie-id", secretName: passwordName("test", "rabbitmq-erlang-cookie"), fileName: "/run/secrets/rabbitmq-erlang-cookie", fileMode: 0o444 },
        { secretId: "platform-secret-rabbitmq-admin-password-id", secretName: passwordName("test", "rabbitmq-admin-password"), fileName: "/run/secrets/rabbitmq-admin-password", fileMode: 0o444 },
      ],
      configs: [
        { configId: "platform-config-rabbitmq-conf-id", configName: configName(spec, "rabbitmq-conf"), fileName: "/etc/rabbitmq/rabbitmq.conf", fileMode: 0o444 },
        { configId: "platform-config-rabbitmq-definitions-id", configName: configName(spec, "rabbitmq-definitions"), fileName: "/etc/rabbitmq/platform-definitions.json", fileMode: 0o444 },
        { configId: "platform-config-rabbitmq-plugins-id", configName: configName(spec, "rabbitmq-plugins"), fileName: "/etc/rabbitmq/enabled_plugins", fileMode: 0o444 },
        { configId: "platform-config-rabbitmq-node-sh-id", configName: configName(spec, "rabbitmq-node-sh"), fileName: "/etc/rabbitmq/rabbitmq-node.sh", fileMode: 0o555 },
      ],
      mounts: [
        {
          type: "volume",
          source: "test_rabbitmq-1-data",
          target: "/var/lib/rabbitmq",
          readOnly: false,
          volumeOptions: { driverName: "local", labels: labels({ "swarm-platform.stack": "test", "swarm-platform.component": "rabbitmq" }) },
        },
        { type: "tmpfs", target: "/run/rabbitmq", readOnly: false, tmpfsOptions: { sizeBytes: MiB, mode: 0o777 } },
      ],
      healthcheck: { tests: ["CMD", "rabbitmq-diagnostics", "-q", "ping"], interval: "30s", timeout: "20s", retries: 3, startPeriod: "3m" },
      stopGracePeriod: "1m",
    });
    assert.deepEqual(inputs.taskSpec.resources, { limits: { nanoCpus: 2e9, memoryBytes: 512 * MiB }, reservation: { nanoCpus: 2.5e8, memoryBytes: 256 * MiB } });
    assert.deepEqual(inputs.taskSpec.placement, { constraints: ["node.hostname == test-app-01"], prefs: [] });
  });

  void test("prod etcd-2: cluster environment, etcd network only, own volume", () => {
    const { run } = get("prod");
    const inputs = run.one(SERVICE, "platform-svc-etcd-2").inputs as { taskSpec: { containerSpec: Record<string, unknown>; networksAdvanceds: unknown } };
    assert.deepEqual(inputs.taskSpec.containerSpec.env, {
      ETCD_NAME: "etcd-2",
      ETCD_DATA_DIR: "/var/lib/etcd/data",
      ETCD_LISTEN_CLIENT_URLS: "http://0.0.0.0:2379",
      ETCD_ADVERTISE_CLIENT_URLS: "http://etcd-2:2379",
      ETCD_LISTEN_PEER_URLS: "http://0.0.0.0:2380",
      ETCD_INITIAL_ADVERTISE_PEER_URLS: "http://etcd-2:2380",
      ETCD_INITIAL_CLUSTER: "etcd-1=http://etcd-1:2380,etcd-2=http://etcd-2:2380,etcd-3=http://etcd-3:2380",
      ETCD_INITIAL_CLUSTER_STATE: "new",
      ETCD_INITIAL_CLUSTER_TOKEN: "prod-etcd",
      ETCD_AUTO_COMPACTION_MODE: "periodic",
      ETCD_AUTO_COMPACTION_RETENTION: "1h",
      ETCD_QUOTA_BACKEND_BYTES: String(2 * GiB),
      ETCD_HEARTBEAT_INTERVAL: "250",
      ETCD_ELECTION_TIMEOUT: "2500",
    });
    assert.deepEqual(inputs.taskSpec.containerSpec.commands, ["etcd"]);
    assert.deepEqual(inputs.taskSpec.containerSpec.mounts, [{
      type: "volume",
      source: "prod_etcd-2-data",
      target: "/var/lib/etcd",
      readOnly: false,
      volumeOptions: { driverName: "local", labels: labels({ "swarm-platform.stack": "prod", "swarm-platform.component": "etcd" }) },
    }]);
    assert.deepEqual(inputs.taskSpec.networksAdvanceds, [{ id: "platform-net-etcd-id", aliases: ["etcd-2"] }]);
  });

  void test("networks: overlay, attachable only for platform, backend internal, encryption and MTU from config", () => {
    const { run } = get("prod");
    const net = (key: string): unknown => run.one(NETWORK, `platform-net-${key}`).inputs;
    const common = { driver: "overlay", labels: labels({ "swarm-platform.stack": "prod", "swarm-platform.component": "network" }) };
    // Each network names its VXLAN id, below Docker's automatic range (4096 up), the same in every stack.
    const options = (vni: string) => ({ options: { encrypted: "", "com.docker.network.driver.mtu": "1350", "com.docker.network.driver.overlay.vxlanid_list": vni } });
    // The edge network's subnet is fixed (the last /24 of swarmAddrPool) so APISIX can trust X-Real-IP from it alone;
    // its gateway is the one Docker assigns itself (the first host), so the read-back equals the request.
    assert.deepEqual(net("edge"), { name: "prod_edge", attachable: false, internal: false, ...common, ...options("1001"), ipamConfigs: [{ subnet: "10.128.255.0/24", gateway: "10.128.255.1" }] });
    assert.deepEqual(net("platform"), { name: "prod_platform", attachable: true, internal: false, ...common, ...options("1002") });
    assert.deepEqual(net("backend"), { name: "prod_backend", attachable: false, internal: true, ...common, ...options("1003") });
    assert.deepEqual(net("etcd"), { name: "prod_etcd", attachable: false, internal: true, ...common, ...options("1004") });
    // Attachable for an operator's tunnel container; a route out for Alertmanager's webhook.
    assert.deepEqual(net("monitoring"), { name: "prod_monitoring", attachable: true, internal: false, ...common, ...options("1005") });
    // A fixed subnet (the /24 before the edge's): APISIX's allow_admin admits it alone.
    assert.deepEqual(net("admin"), { name: "prod_admin", attachable: false, internal: true, ...common, ...options("1006"), ipamConfigs: [{ subnet: "10.128.254.0/24", gateway: "10.128.254.1" }] });
    for (const key of ["edge", "platform", "backend", "etcd", "monitoring", "admin"]) assert.equal(run.one(NETWORK, `platform-net-${key}`).options.deleteBeforeReplace, undefined, key);
  });

  void test("members roll one at a time: each waits for the previous member to converge; etcd members start together", () => {
    const { run } = get("prod");
    const deps = (svc: string): readonly string[] => run.one(SERVICE, `platform-svc-${svc}`).options.dependsOn;
    for (const family of ["redis", "redis-sentinel", "rabbitmq", "vault"]) {
      assert.deepEqual(deps(`${family}-1`), [], family);
      assert.deepEqual(deps(`${family}-2`), [`platform-svc-${family}-1`], family);
      assert.deepEqual(deps(`${family}-3`), [`platform-svc-${family}-2`], family);
    }
    for (const m of ["etcd-1", "etcd-2", "etcd-3"]) assert.deepEqual(deps(m), [], m);
  });

  void test("overlay encryption off and another MTU: the networks follow", async () => {
    const run = await runProgram("test", withOverrides("test", { overlayEncrypted: "false", overlayMtu: "1300" }), { state });
    assert.deepEqual(run.one(NETWORK, "platform-net-backend").inputs.options, { "com.docker.network.driver.mtu": "1300", "com.docker.network.driver.overlay.vxlanid_list": "1003" });
  });

  void test("random secrets: generated, secret end to end, named by a hash of the value", () => {
    for (const stack of ["test", "prod"] as const) {
      const { run } = get(stack);
      for (const [key, length] of [["redis-password", 32], ["rabbitmq-erlang-cookie", 64], ["rabbitmq-admin-password", 32]] as const) {
        const pw = run.one(RANDOM, `platform-${key}`);
        assert.deepEqual(pw.inputs, { length, special: false });
        assert.equal(pw.options.parent, "platform");
        assert.equal(pw.options.provider, undefined);
        const s = run.one(SECRET, `platform-secret-${key}`);
        // Created before the old one is deleted: Docker refuses to delete a secret a service still uses.
        assert.equal(s.options.deleteBeforeReplace, false);
        assert.deepEqual(s.inputs, {
          name: passwordName(stack, key),
          data: secret(b64(`mock-password-platform-${key}`)),
          labels: labels({ "swarm-platform.stack": stack, "swarm-platform.secret": key }),
        });
      }
      assert.ok(run.outputs.redisAdminPassword instanceof SecretValue);
      assert.ok(run.outputs.rabbitmqAdminPassword instanceof SecretValue);
    }
  });

  void test("configs: content-hashed names, base64 data, labelled", () => {
    const { run, spec } = get("prod");
    for (const c of spec.configs) {
      assert.equal(run.one(CONFIG, `platform-config-${c.key}`).options.deleteBeforeReplace, false, c.key);
      assert.deepEqual(run.one(CONFIG, `platform-config-${c.key}`).inputs, {
        name: c.name,
        data: b64(c.content),
        labels: labels({ "swarm-platform.stack": "prod", "swarm-platform.config": c.key }),
      });
    }
  });
});

void describe("Services: rules for every platform resource", () => {
  for (const stack of ["test", "prod"] as const) {
    void test(`${stack}: one docker service per spec service, through the bootstrap's provider, replicated ones waiting for convergence`, () => {
      const { run, spec } = get(stack);
      const services = run.byType(SERVICE);
      assert.deepEqual(services.map((s) => s.name).sort(), spec.services.map((s) => `platform-svc-${s.name}`).sort());
      const docker = run.resources.filter((r: RecordedResource) => r.type.startsWith("docker:index/"));
      for (const r of docker) {
        assert.equal(r.options.parent, "platform", r.name);
        assert.equal(r.options.provider, "swarm-docker", r.name);
      }
      for (const s of spec.services) {
        const svc = run.one(SERVICE, `platform-svc-${s.name}`);
        const inputs = svc.inputs as { name: string; convergeConfig: unknown; updateConfig: { failureAction: string } };
        assert.equal(inputs.name, `${stack}_${s.name}`);
        // The provider refuses convergeConfig beside mode.global (node-exporter, cadvisor).
        assert.deepEqual(inputs.convergeConfig, "global" in s.mode ? undefined : s.stateful ? { delay: "7s", timeout: "10m" } : { delay: "7s", timeout: "5m" }, s.name);
        assert.equal(inputs.updateConfig.failureAction, "rollback");
        // A replaced service is deleted first (its name is fixed); the image index's platforms are Docker's, not ours.
        assert.equal(svc.options.deleteBeforeReplace, true, s.name);
        assert.deepEqual(svc.options.ignoreChanges, ["taskSpec.placement.platforms"], s.name);
      }
      assert.deepEqual(spec.services.filter((s) => "global" in s.mode).map((s) => s.name).sort(), ["cadvisor", "node-exporter"]);
      assert.deepEqual(run.one(SERVICE, "platform-svc-node-exporter").inputs.mode, { global: true });
      // Member volumes live on their nodes: none is created on the provider's manager.
      assert.deepEqual(run.byType("docker:index/volume:Volume").map((v) => v.name), spec.volumes.filter((v) => v.node === undefined).map((v) => `platform-vol-${v.key}`));
    });

    void test(`${stack}: no generated secret value appears in a service environment or a config`, () => {
      const { run } = get(stack);
      const values = run.byType(RANDOM).map((r) => `mock-password-${r.name}`);
      assert.ok(values.length >= 3);
      const plain = JSON.stringify([
        ...run.byType(SERVICE).map((s) => s.inputs),
        ...run.byType(CONFIG).map((c) => Buffer.from(String(c.inputs.data), "base64").toString("utf8")),
      ]);
      for (const v of values) assert.ok(!plain.includes(v), `${v} leaked`);
    });
  }
});
