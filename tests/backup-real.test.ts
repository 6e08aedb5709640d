/**
 * Backup and restore for real, on loopback: the runner script the platform ships
 * (families/backup/files/backup.sh) with the runner config the prod stack generates,
 * against a real Redis master and replica, a real etcd, a SQLite database (Grafana's
 * kind) and a real OpenSSH SFTP server with a chrooted user as the repository. Data is
 * written and acknowledged (Redis with WAIT), backed up, every data directory is
 * destroyed, fresh empty servers start, each source is restored with the runner's
 * restore command, and everything acknowledged before the backup must be back.
 * Figures: restore_lost_items, backup_s, restore_s, backup_repo_encrypted.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { platformOf } from "./support/config";
import { haveTools, ProcessSet, run, waitFor } from "./support/real-processes";

const LOOPBACK = "127.0.0.1";
const PORTS = { sshd: 46622, redis1: 46631, redis2: 46632, redis3: 46633, etcdClient: 46641, etcdPeer: 46642, rabbitmq: 46651 } as const;
const SCRIPT = join(__dirname, "..", "families", "backup", "files", "backup.sh");
const USER = `bkp${process.pid % 100000}`;
const MARKER = `backup-marker-${randomBytes(8).toString("hex")}`;
const KEYS = 200;
const ETCD_KEYS = 50;

function figure(name: string, value: number, unit: string): void {
  process.stdout.write(`${JSON.stringify({ figure: name, value: Number(value.toFixed(unit === "s" ? 2 : 0)), unit })}\n`);
}

/** Every file under a folder, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

void describe("backup and restore with real servers and a real SFTP repository", () => {
  const procs = new ProcessSet("backup-real");
  // sshd refuses a chroot below a group- or world-writable folder (such as /tmp).
  let sftpRoot = "";
  let userMade = false;
  after(async () => {
    await procs.cleanup();
    if (userMade) await run("userdel", [USER]);
    if (sftpRoot !== "") rmSync(sftpRoot, { recursive: true, force: true });
  });

  /** Debian's sshd on loopback with one chrooted, sftp-only user and an empty folder per repository; started once. */
  async function startSftp(dir: string): Promise<{ hostKey: string }> {
    if (sftpRoot === "") {
      sftpRoot = mkdtempSync("/var/lib/backup-real-sftp-");
      chmodSync(sftpRoot, 0o755);
      // ---- the SFTP server: Debian's sshd, one chrooted sftp-only user, keys only ----
      assert.equal((await run("useradd", ["-M", "-d", "/", "-s", "/usr/sbin/nologin", "-p", "*", USER])).code, 0);
      userMade = true;
      for (const repo of ["repo", "repo-rabbitmq"]) {
        mkdirSync(join(sftpRoot, "chroot", repo), { recursive: true });
        await run("chown", [`${USER}:`, join(sftpRoot, "chroot", repo)]);
      }
      chmodSync(join(sftpRoot, "chroot"), 0o755);
      await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(sftpRoot, "host_key")]);
      await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "backup-runner", "-f", join(dir, "client_key")]);
      writeFileSync(join(sftpRoot, "authorized_keys"), readFileSync(join(dir, "client_key.pub")));
      writeFileSync(join(sftpRoot, "sshd_config"), [
        `Port ${PORTS.sshd}`,
        `ListenAddress ${LOOPBACK}`,
        `HostKey ${join(sftpRoot, "host_key")}`,
        `PidFile ${join(sftpRoot, "sshd.pid")}`,
        `AuthorizedKeysFile ${join(sftpRoot, "authorized_keys")}`,
        "UsePAM no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "Subsystem sftp internal-sftp",
        `AllowUsers ${USER}`,
        `Match User ${USER}`,
        `  ChrootDirectory ${join(sftpRoot, "chroot")}`,
        "  ForceCommand internal-sftp",
        "  AllowTcpForwarding no",
        "  X11Forwarding no",
        "",
      ].join("\n"));
      // Debian's sshd wants its privilege separation folder (the package's unit makes it at boot).
      if (!existsSync("/run/sshd")) mkdirSync("/run/sshd", { mode: 0o755 });
      procs.start("sshd", "/usr/sbin/sshd", ["-D", "-e", "-f", join(sftpRoot, "sshd_config")], {});
    }
    return { hostKey: readFileSync(join(sftpRoot, "host_key.pub"), "utf8").trim().split(" ").slice(0, 2).join(" ") };
  }

  void test("backup → destroy every member's data → restore loses nothing acknowledged", { timeout: 240_000 }, async (t) => {
    if (!haveTools(t, ["sshd", "ssh-keygen", "restic", "redis-server", "redis-cli", "etcd", "etcdctl", "jq", "curl", "sqlite3", "useradd"])) return;
    if (process.getuid?.() !== 0) {
      if (process.env.CI === "true") throw new Error("CI: the SFTP server's chroot needs root");
      t.skip("needs root (sshd chroot, a throwaway system user)");
      return;
    }
    const dir = procs.dir;

    const { hostKey } = await startSftp(dir);

    // ---- the runner's config, as the prod stack generates it with this repository ----
    const p = platformOf("prod", {
      backupRepository: `sftp:${USER}@${LOOPBACK}:/repo`,
      backupSftpPort: PORTS.sshd,
      backupSftpKnownHosts: `[${LOOPBACK}]:${PORTS.sshd} ${hostKey}`,
      backupSftpPrivateKey: readFileSync(join(dir, "client_key"), "utf8"),
      grafanaDataDir: "",
    });
    const conf = JSON.parse(p.configContent("backup-conf")) as {
      sources: { source: string; method: Record<string, unknown> }[];
      sourcesRoot: string;
      metricsPort: number;
    };
    assert.deepEqual(conf.sources.map((s) => s.source), ["redis", "rabbitmq", "etcd", "grafana"]);
    // Swarm names on loopback; everything else is the generated config.
    const hostMap: Record<string, string> = {
      "redis-1:6379": `${LOOPBACK}:${PORTS.redis1}`,
      "redis-2:6379": `${LOOPBACK}:${PORTS.redis2}`,
      "redis-3:6379": `${LOOPBACK}:${PORTS.redis3}`,
      "http://etcd-1:2379": `http://${LOOPBACK}:${PORTS.etcdClient}`,
      "http://etcd-2:2379": `http://${LOOPBACK}:${PORTS.etcdClient}`,
      "http://etcd-3:2379": `http://${LOOPBACK}:${PORTS.etcdClient}`,
      // Nothing listens here: RabbitMQ's backup must fail, and say so in the metrics.
      "http://rabbitmq-1:15672": `http://${LOOPBACK}:${PORTS.rabbitmq}`,
    };
    const remapped = JSON.parse(JSON.stringify({ ...conf, sourcesRoot: join(dir, "sources"), metricsPort: 0 }), (_k, v: unknown) =>
      typeof v === "string" && v in hostMap ? hostMap[v] : v) as typeof conf;
    assert.deepEqual(remapped.sources.find((s) => s.source === "redis")?.method.members, [`${LOOPBACK}:${PORTS.redis1}`, `${LOOPBACK}:${PORTS.redis2}`, `${LOOPBACK}:${PORTS.redis3}`]);
    writeFileSync(join(dir, "backup.json"), JSON.stringify(remapped));

    // Secrets as the runner finds them: one file each, named by the spec's keys.
    const secretsDir = join(dir, "secrets");
    mkdirSync(secretsDir, { mode: 0o700 });
    const redisPassword = randomBytes(16).toString("hex");
    const etcdRootPassword = randomBytes(16).toString("hex");
    const runnerSecrets = p.service("backup").secrets.map((s) => s.key).sort();
    assert.deepEqual(runnerSecrets, ["backup-password", "backup-sftp-key", "etcd-root-password", "rabbitmq-admin-password", "redis-password"]);
    writeFileSync(join(secretsDir, "etcd-root-password"), etcdRootPassword, { mode: 0o400 });
    writeFileSync(join(secretsDir, "backup-password"), `restic-${randomBytes(16).toString("hex")}`, { mode: 0o400 });
    writeFileSync(join(secretsDir, "backup-sftp-key"), readFileSync(join(dir, "client_key")), { mode: 0o400 });
    writeFileSync(join(secretsDir, "redis-password"), redisPassword, { mode: 0o400 });
    writeFileSync(join(secretsDir, "rabbitmq-admin-password"), "unused", { mode: 0o400 });

    const runner = (...args: string[]) => run("sh", [SCRIPT, ...args], {
      BACKUP_CONF: join(dir, "backup.json"),
      BACKUP_SECRETS: secretsDir,
      BACKUP_RUN: join(dir, "run"),
      BACKUP_WORK: join(dir, "work"),
    }, 120_000);

    // ---- the platform's data services ----
    const redisCli = (port: number, ...args: string[]) => run("redis-cli", ["-h", LOOPBACK, "-p", String(port), "--no-auth-warning", "-a", redisPassword, ...args]);
    const startRedis = async (): Promise<void> => {
      for (const [name, port, replica] of [["redis-1", PORTS.redis1, false], ["redis-2", PORTS.redis2, true]] as const) {
        const data = join(dir, name);
        rmSync(data, { recursive: true, force: true });
        mkdirSync(data);
        procs.start(name, "redis-server", [
          "--bind", LOOPBACK, "--port", String(port), "--dir", data, "--requirepass", redisPassword, "--masterauth", redisPassword,
          // The platform's admin ACL user, as families/redis writes it: the runner logs in by name.
          "--user", "admin", "on", `>${redisPassword}`, "~*", "&*", "+@all",
          "--appendonly", "yes", "--save", "",
          ...(replica ? ["--replicaof", LOOPBACK, String(PORTS.redis1)] : []),
        ], {});
      }
      await waitFor("the Redis replica's link to the master", async () => {
        procs.mustRun("redis-1", "redis-2");
        const info = (await redisCli(PORTS.redis2, "INFO", "replication")).stdout;
        return info.includes("master_link_status:up") ? true : undefined;
      }, 30_000);
    };
    const startEtcd = async (): Promise<void> => {
      const data = join(dir, "etcd-1");
      rmSync(data, { recursive: true, force: true });
      procs.start("etcd-1", "etcd", [
        "--name", "etcd-1", "--data-dir", data,
        "--listen-client-urls", `http://${LOOPBACK}:${PORTS.etcdClient}`, "--advertise-client-urls", `http://${LOOPBACK}:${PORTS.etcdClient}`,
        "--listen-peer-urls", `http://${LOOPBACK}:${PORTS.etcdPeer}`, "--initial-advertise-peer-urls", `http://${LOOPBACK}:${PORTS.etcdPeer}`,
        "--initial-cluster", `etcd-1=http://${LOOPBACK}:${PORTS.etcdPeer}`, "--initial-cluster-state", "new",
      ], {});
      await waitFor("etcd", async () => {
        procs.mustRun("etcd-1");
        return (await etcdctlOpen("endpoint", "health")).code === 0 ? true : undefined;
      }, 30_000);
      // As the platform runs it (families/etcd, the etcd-auth job): authentication on, root's password a secret file.
      assert.equal((await etcdctlOpen("user", "add", "root", `--new-user-password=${etcdRootPassword}`)).code, 0);
      assert.equal((await etcdctlOpen("auth", "enable")).code, 0);
    };
    const etcdctlOpen = (...args: string[]) => run("etcdctl", [`--endpoints=http://${LOOPBACK}:${PORTS.etcdClient}`, ...args], { ETCDCTL_API: "3" });
    const etcdctl = (...args: string[]) => etcdctlOpen("--user", "root", "--password", etcdRootPassword, ...args);
    const grafanaDb = join(dir, "sources", "grafana", "grafana.db");
    const sqlite = (...args: string[]) => run("sqlite3", [grafanaDb, ...args]);

    await startRedis();
    await startEtcd();

    // ---- acknowledged data ----
    const expected = new Map<string, string>();
    for (let i = 0; i < KEYS; i++) {
      const key = i % 10 === 0 ? `app:key with space ${i}` : i % 10 === 1 ? `app:"quoted\\${i}"` : `app:key:${i}`;
      const value = `${MARKER}-${i}`;
      assert.equal((await redisCli(PORTS.redis1, "SET", key, value)).code, 0);
      expected.set(key, value);
    }
    assert.equal((await redisCli(PORTS.redis1, "SET", "app:ttl", MARKER, "EX", "3600")).stdout.trim(), "OK");
    expected.set("app:ttl", MARKER);
    // Acknowledged by the replica too: WAIT answers how many replicas hold every write so far.
    assert.equal((await redisCli(PORTS.redis1, "WAIT", "1", "5000")).stdout.trim(), "1");
    const etcdExpected = new Map<string, string>();
    for (let i = 0; i < ETCD_KEYS; i++) {
      const key = `/apisix/routes/${String(i).padStart(4, "0")}`;
      const value = JSON.stringify({ id: i, uri: `/r/${i}`, desc: MARKER });
      assert.equal((await etcdctl("put", key, value)).code, 0);
      etcdExpected.set(key, value);
    }
    mkdirSync(join(dir, "sources", "grafana"), { recursive: true });
    assert.equal((await sqlite(`CREATE TABLE dashboard (id INTEGER PRIMARY KEY, title TEXT); INSERT INTO dashboard (title) VALUES ('${MARKER}');`)).code, 0);

    // ---- backup ----
    const backupStart = performance.now();
    const backup = await runner("run");
    const backupS = (performance.now() - backupStart) / 1000;
    // RabbitMQ had nothing listening: the run reports the failure, the others succeed.
    assert.equal(backup.code, 1, `${backup.stderr}\n${procs.logTail("sshd")}`);
    assert.ok(existsSync(join(dir, "run", "metrics", "metrics")), `no metrics: ${backup.stderr}\n${procs.logTail("sshd")}`);
    const metrics = readFileSync(join(dir, "run", "metrics", "metrics"), "utf8");
    for (const s of ["redis", "etcd", "grafana"]) assert.match(metrics, new RegExp(`^backup_last_run_success\\{source="${s}"\\} 1$`, "m"), backup.stderr);
    assert.match(metrics, /^backup_last_run_success\{source="rabbitmq"\} 0$/m);
    assert.doesNotMatch(metrics, /backup_last_success_timestamp_seconds\{source="rabbitmq"\}/);
    assert.match(backup.stderr, /redis: RDB from 127\.0\.0\.1:46632/, "the RDB comes from the replica, never the master");
    const snapshots = await runner("snapshots");
    assert.equal(snapshots.code, 0, snapshots.stderr);
    for (const s of ["redis", "etcd", "grafana"]) assert.match(snapshots.stdout, new RegExp(`\\b${s}\\b`));

    // The repository on the SFTP server holds no plaintext of what was backed up.
    const repoFiles = filesUnder(join(sftpRoot, "chroot", "repo"));
    assert.ok(repoFiles.some((f) => f.includes("/data/")), "the repository holds data packs");
    const plaintext = repoFiles.filter((f) => readFileSync(f).includes(MARKER));
    figure("backup_repo_encrypted", plaintext.length === 0 ? 1 : 0, "bool");
    assert.deepEqual(plaintext, []);

    // ---- destroy every member's data ----
    for (const name of ["redis-1", "redis-2", "etcd-1"]) await procs.kill(name);
    rmSync(join(dir, "sources", "grafana", "grafana.db"));
    await startRedis();
    await startEtcd();
    assert.equal((await redisCli(PORTS.redis1, "DBSIZE")).stdout.trim(), "0");
    assert.equal((JSON.parse((await etcdctl("get", "/apisix", "--prefix", "-w", "json")).stdout) as { count?: number }).count ?? 0, 0);
    writeFileSync(grafanaDb, "");

    // ---- restore, one command per source ----
    const restoreStart = performance.now();
    let restoreLog = "";
    for (const s of ["redis", "etcd", "grafana"]) {
      const r = await runner("restore", s, "latest");
      restoreLog += r.stderr;
      assert.equal(r.code, 0, `${s}: ${r.stderr}`);
    }
    const restoreS = (performance.now() - restoreStart) / 1000;

    // ---- everything acknowledged before the backup is back, on the master and the replica ----
    let lost = 0;
    assert.equal((await redisCli(PORTS.redis1, "WAIT", "1", "5000")).stdout.trim(), "1");
    for (const port of [PORTS.redis1, PORTS.redis2]) {
      for (const [key, value] of expected) {
        if ((await redisCli(port, "GET", key)).stdout.replace(/\n$/, "") !== value) lost++;
      }
    }
    const restoredEtcd = JSON.parse((await etcdctl("get", "/apisix", "--prefix", "-w", "json")).stdout) as { kvs?: { key: string; value: string }[] };
    const got = new Map((restoredEtcd.kvs ?? []).map((kv) => [Buffer.from(kv.key, "base64").toString(), Buffer.from(kv.value, "base64").toString()]));
    for (const [key, value] of etcdExpected) if (got.get(key) !== value) lost++;
    if ((await sqlite("SELECT title FROM dashboard;")).stdout.trim() !== MARKER) lost++;
    figure("restore_lost_items", lost, "count");
    figure("backup_s", backupS, "s");
    figure("restore_s", restoreS, "s");
    assert.equal(lost, 0, restoreLog);
    const ttl = Number((await redisCli(PORTS.redis1, "TTL", "app:ttl")).stdout.trim());
    assert.ok(ttl > 3000 && ttl <= 3600, `the TTL survives the restore (${ttl})`);

    // ---- healthy afterwards: replication up, etcd healthy ----
    assert.match((await redisCli(PORTS.redis2, "INFO", "replication")).stdout, /master_link_status:up/);
    assert.equal((await etcdctl("endpoint", "health")).code, 0);
  });

  void test("RabbitMQ: definitions backed up, the node's data wiped, definitions restored", { timeout: 240_000 }, async (t) => {
    if (!haveTools(t, ["sshd", "restic", "rabbitmq-server", "rabbitmqctl", "epmd", "jq", "curl", "useradd"])) return;
    if (process.getuid?.() !== 0) {
      if (process.env.CI === "true") throw new Error("CI: the SFTP server's chroot needs root");
      t.skip("needs root (sshd chroot, a throwaway system user)");
      return;
    }
    const dir = join(procs.dir, "rabbitmq");
    mkdirSync(dir);
    const { hostKey } = await startSftp(procs.dir);
    // The test stack: one RabbitMQ node, its generated entrypoint, config, plugins and definitions.
    const p = platformOf("test", {
      backupRepository: `sftp:${USER}@${LOOPBACK}:/repo-rabbitmq`,
      backupSftpPort: PORTS.sshd,
      backupSftpKnownHosts: `[${LOOPBACK}]:${PORTS.sshd} ${hostKey}`,
      backupSftpPrivateKey: readFileSync(join(procs.dir, "client_key"), "utf8"),
    });
    const conf = JSON.parse(p.configContent("backup-conf")) as { sources: { source: string }[] };
    const mgmt = PORTS.rabbitmq;
    const rabbitConf = JSON.parse(JSON.stringify({ ...conf, sources: conf.sources.filter((x) => x.source === "rabbitmq"), metricsPort: 0 }), (_k, v: unknown) =>
      v === "http://rabbitmq-1:15672" ? `http://${LOOPBACK}:${mgmt}` : v) as Record<string, unknown>;
    writeFileSync(join(dir, "backup.json"), JSON.stringify(rabbitConf));
    const secretsDir = join(dir, "secrets");
    mkdirSync(secretsDir, { mode: 0o700 });
    const adminPassword = randomBytes(16).toString("hex");
    writeFileSync(join(secretsDir, "backup-password"), `restic-${randomBytes(16).toString("hex")}`, { mode: 0o400 });
    writeFileSync(join(secretsDir, "backup-sftp-key"), readFileSync(join(procs.dir, "client_key")), { mode: 0o400 });
    writeFileSync(join(secretsDir, "rabbitmq-admin-password"), `${adminPassword}\n`, { mode: 0o400 });
    writeFileSync(join(dir, "cookie"), randomBytes(24).toString("hex"), { mode: 0o400 });
    writeFileSync(join(dir, "definitions.json"), p.configContent("rabbitmq-definitions"));
    writeFileSync(join(dir, "enabled_plugins"), "[rabbitmq_management].\n");
    writeFileSync(join(dir, "node.sh"), p.configContent("rabbitmq-node-sh"));
    const home = join(dir, "home");
    const node = "rabbit-backup@localhost";
    const BIN = "/usr/lib/rabbitmq/bin";
    const erl = { PATH: `${BIN}:${process.env.PATH ?? "/usr/bin:/bin"}`, HOME: home, ERL_EPMD_PORT: String(PORTS.rabbitmq + 5) };
    const admin = p.service("rabbitmq-1").env.RABBITMQ_ADMIN_USER;
    const startRabbit = async (): Promise<void> => {
      rmSync(home, { recursive: true, force: true });
      mkdirSync(join(home, "log"), { recursive: true });
      writeFileSync(join(home, "rabbitmq.conf"), [
        `listeners.tcp.default = ${LOOPBACK}:${PORTS.rabbitmq + 1}`,
        `management.tcp.ip = ${LOOPBACK}`,
        `management.tcp.port = ${mgmt}`,
        `load_definitions = ${join(home, "run", "definitions")}`,
        "",
      ].join("\n"));
      procs.start("rabbitmq", "sh", [join(dir, "node.sh")], {
        ...erl,
        RABBITMQ_NODENAME: node,
        RABBITMQ_ERLANG_COOKIE_SECRET: join(dir, "cookie"),
        RABBITMQ_ADMIN_USER: admin,
        RABBITMQ_ADMIN_PASSWORD_FILE: join(secretsDir, "rabbitmq-admin-password"),
        RABBITMQ_DEFINITIONS_TEMPLATE: join(dir, "definitions.json"),
        RABBITMQ_RUNTIME_DIR: join(home, "run"),
        RABBITMQ_CONFIG_FILE: join(home, "rabbitmq.conf"),
        RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, "enabled_plugins"),
        RABBITMQ_MNESIA_BASE: join(home, "mnesia"),
        RABBITMQ_LOG_BASE: join(home, "log"),
        RABBITMQ_PID_FILE: join(home, "rabbitmq.pid"),
        RABBITMQ_DIST_PORT: String(PORTS.rabbitmq + 2),
      });
      await waitFor("the management API", async () => {
        procs.mustRun("rabbitmq");
        return (await api("GET", "/overview")).status === 200 ? true : undefined;
      }, 120_000, 1_000, () => procs.logTail("rabbitmq"));
    };
    const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> => {
      const res = await fetch(`http://${LOOPBACK}:${mgmt}/api${path}`, {
        method,
        headers: { authorization: `Basic ${Buffer.from(`${admin}:${adminPassword}`).toString("base64")}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) as unknown : undefined };
    };
    procs.start("epmd", "epmd", ["-port", erl.ERL_EPMD_PORT, "-address", LOOPBACK], {});
    await startRabbit();

    // Definitions an application relies on, each acknowledged by the API.
    const ok = (r: { status: number }) => assert.ok(r.status === 201 || r.status === 204, `status ${r.status}`);
    ok(await api("PUT", "/vhosts/orders", { default_queue_type: "quorum" }));
    ok(await api("PUT", `/permissions/orders/${admin}`, { configure: ".*", write: ".*", read: ".*" }));
    ok(await api("PUT", "/users/app", { password: MARKER, tags: "" }));
    ok(await api("PUT", "/permissions/orders/app", { configure: "", write: "^orders\\.", read: "^orders\\." }));
    ok(await api("PUT", "/exchanges/orders/orders.events", { type: "topic", durable: true }));
    ok(await api("PUT", "/queues/orders/orders.created", { durable: true, arguments: { "x-queue-type": "quorum" } }));
    ok(await api("POST", "/bindings/orders/e/orders.events/q/orders.created", { routing_key: "order.created" }));
    ok(await api("PUT", "/policies/orders/orders-limit", { pattern: "^orders\\.", definition: { "max-length": 100000 }, "apply-to": "queues" }));

    const runner = (...args: string[]) => run("sh", [SCRIPT, ...args], {
      BACKUP_CONF: join(dir, "backup.json"), BACKUP_SECRETS: secretsDir, BACKUP_RUN: join(dir, "run"), BACKUP_WORK: join(dir, "work"),
    }, 120_000);
    const backup = await runner("run");
    assert.equal(backup.code, 0, backup.stderr);
    const repo = filesUnder(join(sftpRoot, "chroot", "repo-rabbitmq"));
    assert.deepEqual(repo.filter((f) => readFileSync(f).includes("orders.created")), [], "the definitions are encrypted in the repository");

    // The node's data is gone: it boots blank, with only the platform's own definitions.
    await procs.kill("rabbitmq");
    await startRabbit();
    assert.equal((await api("GET", "/vhosts/orders")).status, 404);

    const restore = await runner("restore", "rabbitmq", "latest");
    assert.equal(restore.code, 0, restore.stderr);
    const checks: [string, (j: Record<string, unknown>) => boolean][] = [
      ["/vhosts/orders", () => true],
      ["/users/app", (j) => typeof j.password_hash === "string"],
      ["/permissions/orders/app", (j) => j.write === "^orders\\."],
      ["/exchanges/orders/orders.events", (j) => j.type === "topic"],
      ["/queues/orders/orders.created", (j) => j.type === "quorum"],
      ["/bindings/orders/e/orders.events/q/orders.created", (j) => Array.isArray(j) && j.length === 1],
      ["/policies/orders/orders-limit", (j) => (j.definition as Record<string, unknown>)["max-length"] === 100000],
    ];
    let lost = 0;
    for (const [path, check] of checks) {
      const r = await api("GET", path);
      if (r.status !== 200 || !check(r.json as Record<string, unknown>)) lost++;
    }
    figure("rabbitmq_restore_lost_items", lost, "count");
    assert.equal(lost, 0, restore.stderr);
  });
});
