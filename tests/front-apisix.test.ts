import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync, lstatSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { buildTopology } from "../core/topology";
import { buildPlatform } from "../platform/assemble";
import { familyContext } from "../platform/assemble";
import { apisixAdminObjects, adminManifest, LIMITS, REDIS_PASSWORD_PLACEHOLDER } from "../families/apisix/routes";
import { APISIX_PLUGINS, APPLY_IMAGE, PLACEHOLDER } from "../families/apisix/specs";
import { apisixFamily } from "../families/apisix";
import type { PlatformSpec } from "../core/model";
import { loadStack } from "./support/config";
import { requireTool } from "./support/tools";
import { matchSnapshot } from "./support/snapshot";

const RENDER_SECRETS = join(__dirname, "..", "families", "kit", "files", "render-secrets.sh");
const APISIX_APPLY = join(__dirname, "..", "families", "apisix", "files", "apisix-apply.sh");
/** This file's loopback ports. */
const PORT_ADMIN = 39411;

function build(stack: "test" | "prod", overrides: Record<string, unknown> = {}) {
  const config = loadStack(stack, overrides);
  const topology = buildTopology(config);
  return { config, ctx: familyContext(config, topology, apisixFamily), platform: buildPlatform(config, topology).spec };
}

const content = (p: PlatformSpec, key: string): string => {
  const c = p.configs.find((x) => x.key === key);
  assert.ok(c, `no config ${key}`);
  return c.content;
};

void describe("APISIX config.yaml (parsed) per stack", () => {
  void test("prod: etcd members and prefix from the data services, real IP only from the edge subnet, admin key as placeholder", () => {
    const { platform } = build("prod");
    const cfg = parse(content(platform, "apisix-config")) as Record<string, unknown>;
    assert.deepEqual(cfg, {
      apisix: {
        node_listen: 9080,
        enable_ipv6: false,
        enable_admin: true,
        data_encryption: { enable_encrypt_fields: true, keyring: [PLACEHOLDER.dataKey] },
      },
      nginx_config: { http: { real_ip_header: "X-Real-IP", real_ip_recursive: "off", real_ip_from: ["127.0.0.1", "10.128.255.0/24"] } },
      deployment: {
        role: "traditional",
        role_traditional: { config_provider: "etcd" },
        admin: {
          admin_key_required: true,
          admin_key: [{ name: "admin", key: PLACEHOLDER.adminKey, role: "admin" }],
          // The admin network alone (the /24 before the edge's), not the whole address pool.
          allow_admin: ["127.0.0.0/24", "10.128.254.0/24"],
          admin_listen: { ip: "0.0.0.0", port: 9180 },
        },
        etcd: { host: ["http://etcd-1:2379", "http://etcd-2:2379", "http://etcd-3:2379"], prefix: "/apisix", timeout: 30, user: "apisix", password: PLACEHOLDER.etcdPassword },
      },
      plugins: [...APISIX_PLUGINS],
      plugin_attr: { prometheus: { export_uri: "/apisix/prometheus/metrics", export_addr: { ip: "0.0.0.0", port: 9091 } } },
    });
  });

  void test("external etcd endpoints and another address pool flow through", () => {
    const { platform } = build("test", { etcdEndpoints: ["http://db-01:2379", "http://db-02:2379"], swarmAddrPool: "10.64.0.0/12" });
    const cfg = parse(content(platform, "apisix-config")) as { deployment: { etcd: unknown; admin: { allow_admin: unknown } }; nginx_config: { http: { real_ip_from: unknown } } };
    assert.deepEqual(cfg.deployment.etcd, { host: ["http://db-01:2379", "http://db-02:2379"], prefix: "/apisix", timeout: 30 });
    assert.deepEqual(cfg.nginx_config.http.real_ip_from, ["127.0.0.1", "10.79.255.0/24"]);
    assert.deepEqual(cfg.deployment.admin.allow_admin, ["127.0.0.0/24", "10.79.254.0/24"]);
  });

  void test("dashboard conf.yaml: same etcd, password and JWT secret as placeholders", () => {
    const { platform } = build("test");
    assert.deepEqual(parse(content(platform, "apisix-dashboard-config")), {
      conf: {
        listen: { host: "0.0.0.0", port: 9000 },
        allow_list: ["127.0.0.0/24", "10.128.0.0/16"],
        etcd: { endpoints: ["http://etcd-1:2379"], prefix: "/apisix", username: "apisix-dashboard", password: PLACEHOLDER.etcdPassword },
        log: { error_log: { level: "warn", file_path: "/dev/stderr" }, access_log: { file_path: "/dev/stdout" } },
      },
      authentication: { secret: PLACEHOLDER.dashboardJwt, expire_time: 3600, users: [{ username: "admin", password: PLACEHOLDER.dashboardPassword }] },
    });
  });
});

void describe("routes, upstreams and global rule: value by value", () => {
  const byId = (stack: "test" | "prod") => {
    const objs = apisixAdminObjects(build(stack).ctx);
    return Object.fromEntries(objs.map((o) => [`${o.kind}/${o.id}`, o.body as Record<string, unknown>]));
  };

  void test("the limits are the team's: 60/60 s global, 12/60 s auth, WebSocket 5 connections burst 2", () => {
    assert.deepEqual(LIMITS, { global: { count: 60, timeWindow: 60 }, auth: { count: 12, timeWindow: 60 }, websocket: { conn: 5, burst: 2, defaultConnDelay: 0.1 } });
  });

  void test("prod: limit-count in Redis through the stable endpoint, with allow_degradation", () => {
    const o = byId("prod");
    // Its own ACL user (limit-count's keys and script commands only), not the admin.
    const redis = { policy: "redis", redis_host: "redis", redis_port: 6379, redis_username: "apisix-ratelimit", redis_password: REDIS_PASSWORD_PLACEHOLDER, redis_database: 0, redis_timeout: 1000, allow_degradation: true };
    assert.deepEqual((o["global_rules/1"].plugins as Record<string, unknown>)["limit-count"], { count: 60, time_window: 60, key_type: "var", key: "remote_addr", rejected_code: 429, ...redis });
    assert.deepEqual((o["global_rules/1"].plugins as Record<string, unknown>).prometheus, { prefer_name: true });
    assert.deepEqual(o["routes/auth"].uris, ["/v1/auth/*", "/v1/users/*"]);
    assert.equal(o["routes/auth"].upstream_id, "api");
    assert.deepEqual((o["routes/auth"].plugins as Record<string, unknown>)["limit-count"], { count: 12, time_window: 60, key_type: "var", key: "remote_addr", rejected_code: 429, ...redis });
  });

  void test("prod: Web STOMP upstream hashes the client address over the three RabbitMQ members, health-checked", () => {
    const up = byId("prod")["upstreams/rabbitmq-web-stomp"];
    assert.equal(up.type, "chash");
    assert.equal(up.hash_on, "vars");
    assert.equal(up.key, "remote_addr");
    assert.deepEqual(up.nodes, { "rabbitmq-1:15674": 1, "rabbitmq-2:15674": 1, "rabbitmq-3:15674": 1 });
    assert.deepEqual(up.timeout, { connect: 10, send: 3600, read: 3600 });
    assert.deepEqual((up.checks as { active: unknown }).active, { type: "tcp", timeout: 2, healthy: { interval: 5, successes: 2 }, unhealthy: { interval: 5, tcp_failures: 2, timeouts: 3 } });
    const ws = byId("prod")["routes/websocket"];
    assert.equal(ws.uri, "/ws");
    assert.equal(ws.enable_websocket, true);
    assert.equal(ws.upstream_id, "rabbitmq-web-stomp");
    assert.deepEqual(ws.plugins, { "limit-conn": { conn: 5, burst: 2, default_conn_delay: 0.1, key_type: "var", key: "remote_addr", rejected_code: 429 } });
  });

  void test("test: local counters, round robin to the single member", () => {
    const o = byId("test");
    assert.deepEqual((o["global_rules/1"].plugins as Record<string, unknown>)["limit-count"], { count: 60, time_window: 60, key_type: "var", key: "remote_addr", rejected_code: 429, policy: "local" });
    assert.deepEqual((o["routes/auth"].plugins as Record<string, unknown>)["limit-count"], { count: 12, time_window: 60, key_type: "var", key: "remote_addr", rejected_code: 429, policy: "local" });
    const up = o["upstreams/rabbitmq-web-stomp"];
    assert.equal(up.type, "roundrobin");
    assert.equal(up.hash_on, undefined);
    assert.deepEqual(up.nodes, { "rabbitmq-1:15674": 1 });
    assert.deepEqual(o["upstreams/api"].nodes, { "api:8080": 1 });
  });

  void test("the manifest: upstreams before routes, one compact JSON per line, ids fixed", () => {
    const { platform } = build("prod");
    const manifest = content(platform, "apisix-routes-manifest");
    matchSnapshot("prod/apisix-routes-manifest", manifest);
    const lines = manifest.trimEnd().split("\n").filter((l) => !l.startsWith("#"));
    assert.deepEqual(lines.map((l) => l.split(" ").slice(0, 2).join(" ")), [
      "PUT /apisix/admin/upstreams/api",
      "PUT /apisix/admin/upstreams/rabbitmq-web-stomp",
      "PUT /apisix/admin/routes/websocket",
      "PUT /apisix/admin/routes/auth",
      "PUT /apisix/admin/routes/api",
      "PUT /apisix/admin/global_rules/1",
    ]);
    for (const l of lines) JSON.parse(l.split(" ").slice(2).join(" "));
    assert.equal(adminManifest([], [{ kind: "upstreams", id: "old" }, { kind: "routes", id: "old" }]).split("\n").slice(1, 3).join("\n"),
      "DELETE /apisix/admin/routes/old {}\nDELETE /apisix/admin/upstreams/old {}");
  });
});

void describe("APISIX plugins", () => {
  void test("an explicit list: APISIX 3.11's defaults without the serverless functions, every plugin the routes use in it", () => {
    assert.equal(APISIX_PLUGINS.length, 84);
    assert.equal(new Set(APISIX_PLUGINS).size, APISIX_PLUGINS.length);
    assert.ok(!APISIX_PLUGINS.some((p) => p.startsWith("serverless-")));
    const used = new Set<string>();
    for (const o of apisixAdminObjects(build("prod").ctx)) for (const name of Object.keys((o.body as { plugins?: object }).plugins ?? {})) used.add(name);
    assert.deepEqual([...used].filter((p) => !APISIX_PLUGINS.includes(p)), []);
    assert.ok(used.size >= 3, [...used].join(" "));
  });
});

void describe("APISIX services", () => {
  void test("prod: 3 replicas at most one per service node, stop-first, never published; routes service with the Redis password file", () => {
    const { platform } = build("prod");
    const apisix = platform.services.find((s) => s.name === "apisix");
    assert.ok(apisix);
    assert.deepEqual(apisix.mode, { replicas: 3 });
    assert.deepEqual(apisix.placement, { constraints: ["node.labels.type == service"], spread: ["node.labels.location"], maxReplicasPerNode: 1 });
    assert.deepEqual(apisix.ports, []);
    assert.equal(apisix.update.order, "stop-first");
    assert.equal(apisix.update.failureAction, "rollback");
    assert.deepEqual(apisix.networks.map((n) => n.key), ["edge", "platform", "etcd", "admin"]);
    assert.deepEqual(apisix.entrypoint, [
      "/bin/sh", "/platform/render-secrets.sh", "/platform/config.yaml.tmpl", "/dev/shm/apisix/config.yaml", "/usr/local/apisix/conf/config.yaml",
      "__APISIX_ADMIN_KEY__=/run/secrets/apisix-admin-key", "__APISIX_DATA_KEY__=/run/secrets/apisix-data-key",
      "__ETCD_PASSWORD__=/run/secrets/etcd-apisix-password",
      "--", "/docker-entrypoint.sh", "docker-start",
    ]);
    assert.deepEqual(apisix.secrets.map((s) => [s.key, s.mode, s.uid]), [
      ["apisix-admin-key", 0o400, "636"], ["apisix-data-key", 0o400, "636"], ["etcd-apisix-password", 0o400, "636"],
    ]);
    assert.deepEqual(apisix.env, {});
    const dashboard = platform.services.find((s) => s.name === "apisix-dashboard");
    assert.ok(dashboard);
    assert.deepEqual(dashboard.mode, { replicas: 3 });
    assert.deepEqual(dashboard.ports, []);
    const routes = platform.services.find((s) => s.name === "apisix-routes");
    assert.ok(routes);
    assert.equal(routes.component, "apisix-routes");
    assert.equal(routes.image, APPLY_IMAGE);
    assert.deepEqual(routes.env, {
      ADMIN_URL: "http://apisix:9180",
      ADMIN_KEY_FILE: "/run/secrets/apisix-admin-key",
      MANIFEST: "/platform/manifest",
      REDIS_PASSWORD_FILE: "/run/secrets/redis-ratelimit-password",
      APPLY_INTERVAL: "600",
      RETRY_DELAY: "5",
      READY_FILE: "/tmp/apisix-routes.applied",
    });
    assert.deepEqual(routes.secrets.map((s) => s.key), ["apisix-admin-key", "redis-ratelimit-password"]);
    assert.deepEqual(platform.secrets.filter((s) => s.key.startsWith("apisix-")).map((s) => [s.key, s.source]), [
      ["apisix-admin-key", { kind: "random", length: 32, special: false }],
      ["apisix-data-key", { kind: "random", length: 16, special: false }],
      ["apisix-dashboard-password", { kind: "random", length: 24, special: false }],
      ["apisix-dashboard-jwt-secret", { kind: "random", length: 32, special: false }],
    ]);
  });

  void test("test: one replica, no Redis password for the routes service", () => {
    const { platform } = build("test");
    assert.deepEqual(platform.services.find((s) => s.name === "apisix")?.mode, { replicas: 1 });
    const routes = platform.services.find((s) => s.name === "apisix-routes");
    assert.equal(routes?.env.REDIS_PASSWORD_FILE, undefined);
    assert.deepEqual(routes?.secrets.map((s) => s.key), ["apisix-admin-key"]);
  });
});

void describe("entrypoint scripts (real sh, awk, curl)", () => {
  const dir = mkdtempSync(join(tmpdir(), "front-apisix-"));
  const children: ChildProcess[] = [];
  let server: Server | undefined;
  after(async () => {
    for (const c of children) {
      if (c.pid !== undefined && c.exitCode === null) {
        try {
          process.kill(-c.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
    rmSync(dir, { recursive: true, force: true });
  });

  void test("shellcheck passes on every front script", (t) => {
    if (!requireTool(t, "shellcheck")) return;
    const r = spawnSync("shellcheck", ["-s", "sh", RENDER_SECRETS, APISIX_APPLY], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  void test("render-secrets.sh fills APISIX's template from secret files into an owner-only file and links it", () => {
    const { platform } = build("prod");
    writeFileSync(join(dir, "config.yaml.tmpl"), content(platform, "apisix-config"));
    writeFileSync(join(dir, "admin-key"), "Adm1nKeyFromSecret\n");
    writeFileSync(join(dir, "data-key"), "0123456789abcdef");
    const out = join(dir, "shm", "config.yaml");
    const link = join(dir, "config.yaml");
    const r = spawnSync("sh", [RENDER_SECRETS, join(dir, "config.yaml.tmpl"), out, link,
      `${PLACEHOLDER.adminKey}=${join(dir, "admin-key")}`, `${PLACEHOLDER.dataKey}=${join(dir, "data-key")}`, "--", "cat", link], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const rendered = parse(r.stdout) as { deployment: { admin: { admin_key: { key: string }[] } }; apisix: { data_encryption: { keyring: string[] } } };
    assert.equal(rendered.deployment.admin.admin_key[0].key, "Adm1nKeyFromSecret");
    assert.deepEqual(rendered.apisix.data_encryption.keyring, ["0123456789abcdef"]);
    assert.ok(!r.stdout.includes("__APISIX"));
    assert.equal(statSync(out).mode & 0o777, 0o600);
    assert.ok(lstatSync(link).isSymbolicLink());
  });

  void test("render-secrets.sh refuses an empty or missing secret file and does not start the command", () => {
    writeFileSync(join(dir, "empty"), "");
    const r = spawnSync("sh", [RENDER_SECRETS, join(dir, "config.yaml.tmpl"), join(dir, "shm2", "x"), "-",
      `__X__=${join(dir, "empty")}`, "--", "touch", join(dir, "started")], { encoding: "utf8" });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot read a value from/);
    assert.ok(!existsSync(join(dir, "started")));
  });

  void test("apisix-apply.sh retries until the Admin API answers, PUTs every object with the key and the Redis password, and re-applies identically", async (t) => {
    if (!requireTool(t, "curl")) return;
    const { platform } = build("prod");
    const manifest = content(platform, "apisix-routes-manifest");
    writeFileSync(join(dir, "manifest"), manifest);
    writeFileSync(join(dir, "apply-admin-key"), "k3y-from-secret\n");
    writeFileSync(join(dir, "redis-password"), "s3cr\"t\\pw");
    const seen: { method: string; url: string; key: string | undefined; body: string }[] = [];
    let refusals = 2;
    server = createServer((req: IncomingMessage, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        if (refusals > 0) {
          refusals--;
          res.writeHead(503).end("{\"error_msg\":\"etcd not ready\"}");
          return;
        }
        seen.push({ method: req.method ?? "", url: req.url ?? "", key: req.headers["x-api-key"] as string | undefined, body });
        res.writeHead(req.method === "PUT" ? 201 : 200, { "Content-Type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((ok) => server!.listen(PORT_ADMIN, "127.0.0.1", () => ok()));
    const ready = join(dir, "applied");
    const child = spawn("sh", [APISIX_APPLY], {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        ADMIN_URL: `http://127.0.0.1:${PORT_ADMIN}`,
        ADMIN_KEY_FILE: join(dir, "apply-admin-key"),
        MANIFEST: join(dir, "manifest"),
        REDIS_PASSWORD_FILE: join(dir, "redis-password"),
        APPLY_INTERVAL: "1",
        RETRY_DELAY: "1",
        READY_FILE: ready,
      },
      stdio: ["ignore", "ignore", "pipe"],
      detached: true,
    });
    children.push(child);
    let stderr = "";
    child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    const started = Date.now();
    const objects = manifest.trimEnd().split("\n").filter((l) => !l.startsWith("#")).length;
    while (seen.length < 2 * objects && Date.now() - started < 20_000) await new Promise((ok) => setTimeout(ok, 100));
    assert.ok(seen.length >= 2 * objects, `saw ${seen.length} requests; script said:\n${stderr}`);
    assert.ok(existsSync(ready), "ready file after the first complete apply");
    process.stdout.write(`apply: first complete apply after 2 refusals and ${((Date.now() - started) / 1000).toFixed(1)} s total for two rounds of ${objects} objects\n`);
    const first = seen.slice(0, objects);
    const second = seen.slice(objects, 2 * objects);
    assert.deepEqual(second, first, "the re-apply sends the very same requests");
    assert.deepEqual(first.map((r) => `${r.method} ${r.url}`), [
      "PUT /apisix/admin/upstreams/api",
      "PUT /apisix/admin/upstreams/rabbitmq-web-stomp",
      "PUT /apisix/admin/routes/websocket",
      "PUT /apisix/admin/routes/auth",
      "PUT /apisix/admin/routes/api",
      "PUT /apisix/admin/global_rules/1",
    ]);
    for (const r of first) assert.equal(r.key, "k3y-from-secret");
    const global = JSON.parse(first[5].body) as { plugins: { "limit-count": { redis_password: string; count: number } } };
    assert.equal(global.plugins["limit-count"].redis_password, "s3cr\"t\\pw");
    assert.equal(global.plugins["limit-count"].count, 60);
    const expected = manifest.trimEnd().split("\n").filter((l) => !l.startsWith("#")).map((l) => JSON.parse(l.split(" ").slice(2).join(" ").replaceAll(REDIS_PASSWORD_PLACEHOLDER, "s3cr\\\"t\\\\pw")) as unknown);
    assert.deepEqual(first.map((r) => JSON.parse(r.body) as unknown), expected);
    assert.match(stderr, /no answer|HTTP 503/);
  });
});
