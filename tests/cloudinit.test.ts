import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { renderCloudInit, sshdHardening, HOST_KEY_PATH } from "../core/cloudinit";
import { dockerSshOpts } from "../core/ssh-config";
import { hostKeyFromSecret } from "../lib/ssh";
import { buildTopology } from "../core/topology";
import { loadStack } from "./support/config";
import { requireTool } from "./support/tools";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDboZlad/wBVVtVG4zMieQjszzWbiCdNIYXl9bG38+1f deploy";
const OPERATOR = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB8yjb9X6pOMUEDEaL2mtdCSexKRt0M+2TrF3gTbyy1W operator";
const FLOATING = "203.0.113.10";
const HOST_KEY = hostKeyFromSecret("k".repeat(64), "node");

interface CloudConfig {
  hostname: string;
  users: { name: string; ssh_authorized_keys: string[]; groups: string[]; lock_passwd: boolean; sudo: string }[];
  packages: (string | string[])[];
  write_files: { path: string; content: string; permissions: string }[];
  ssh_keys: Record<string, string>;
  ssh_deletekeys: boolean;
  ssh_genkeytypes?: string[];
  runcmd: string[][];
  ssh_pwauth: boolean;
  disable_root: boolean;
  apt: { sources: Record<string, { source: string; keyid: string }> };
}

function file(doc: CloudConfig, path: string): string | undefined {
  return doc.write_files.find((f) => f.path === path)?.content;
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "cloudinit-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function schemaCheck(name: string, text: string): { status: number | null; out: string } {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, text);
  const r = spawnSync("cloud-init", ["schema", "--config-file", path], { encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

for (const stack of ["test", "prod"] as const) {
  describe(`cloud-init (${stack})`, () => {
    const cfg = loadStack(stack, { sshAdditionalPublicKeys: [OPERATOR] });
    const topology = buildTopology(cfg);

    test("every node's document passes the real `cloud-init schema`", (t) => {
      if (!requireTool(t, "cloud-init")) return;
      for (const node of topology.nodes) {
        const text = renderCloudInit(cfg, { node, authorizedKeys: [KEY, OPERATOR], hostKey: HOST_KEY, floatingIp: node.isEdge ? FLOATING : undefined });
        assert.ok(text.startsWith("#cloud-config\n"));
        const r = schemaCheck(`${stack}-${node.name}`, text);
        assert.equal(r.status, 0, r.out);
        assert.match(r.out, /Valid cloud-config/);
      }
    });

    test("exact settings: deploy user, hardened sshd, pinned Docker, daemon.json, prune timer", () => {
      const node = topology.nodes[0];
      const doc = parse(renderCloudInit(cfg, { node, authorizedKeys: [KEY, OPERATOR], hostKey: HOST_KEY })) as CloudConfig;
      assert.equal(doc.hostname, node.name);
      assert.equal(doc.ssh_pwauth, false);
      assert.equal(doc.disable_root, true);
      assert.deepEqual(doc.users.map((u) => [u.name, u.ssh_authorized_keys, u.groups, u.lock_passwd]), [["deploy", [KEY, OPERATOR], ["sudo", "docker"], true]]);
      assert.equal(file(doc, "/etc/ssh/sshd_config.d/10-swarm-platform.conf"),
        "Port 2222\nPermitRootLogin no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\nAllowUsers deploy\n" +
        "HostKey /etc/ssh/ssh_host_ed25519_key\nX11Forwarding no\nAllowAgentForwarding no\nMaxAuthTries 3\nMaxStartups 100:30:200\n" +
        "ClientAliveInterval 30\nClientAliveCountMax 4\n");
      assert.deepEqual(doc.ssh_keys, { ed25519_private: HOST_KEY.privateKey, ed25519_public: HOST_KEY.publicKey });
      assert.equal(doc.ssh_deletekeys, true);
      assert.equal(doc.ssh_genkeytypes, undefined);
      assert.deepEqual(JSON.parse(file(doc, "/etc/docker/daemon.json")!), {
        "log-driver": "json-file",
        "log-opts": { "max-size": "10m", "max-file": "3" },
        mtu: 1450,
      });
      assert.deepEqual(doc.packages.slice(0, 3), [["docker-ce", "5:27.5.1-1~debian.12~bookworm"], ["docker-ce-cli", "5:27.5.1-1~debian.12~bookworm"], "containerd.io"]);
      assert.equal(doc.apt.sources["docker.list"].keyid, "9DC858229FC7DD38854AE2D88D81803C0EBFCD88");
      assert.match(file(doc, "/etc/systemd/system/docker-image-prune.timer")!, /^OnCalendar=Sun \*-\*-\* 03:30:00$/m);
      assert.match(file(doc, "/etc/systemd/system/docker-image-prune.service")!, /^ExecStart=\/usr\/bin\/docker image prune --all --force --filter until=168h$/m);
      assert.deepEqual(doc.runcmd, [
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "--now", "docker.service", "docker-image-prune.timer"],
        ["systemctl", "restart", "ssh.service"],
      ]);
      assert.equal(file(doc, "/etc/network/interfaces.d/60-floating-ip.cfg"), undefined);
    });

    test("the edge node configures the floating IP so it survives reboots", () => {
      const doc = parse(renderCloudInit(cfg, { node: topology.edge, authorizedKeys: [KEY], hostKey: HOST_KEY, floatingIp: FLOATING })) as CloudConfig;
      assert.equal(file(doc, "/etc/network/interfaces.d/60-floating-ip.cfg"), "auto eth0:1\niface eth0:1 inet static\n    address 203.0.113.10\n    netmask 32\n");
      assert.deepEqual(doc.runcmd[0], ["ifup", "eth0:1"]);
      assert.throws(() => renderCloudInit(cfg, { node: topology.edge, authorizedKeys: [KEY], hostKey: HOST_KEY }), /needs the floating IP/);
    });
  });
}

test("the schema check is real: a broken document is rejected", (t) => {
  if (!requireTool(t, "cloud-init")) return;
  const r = schemaCheck("broken", "#cloud-config\npackages: 5\nusers: nope\n");
  assert.notEqual(r.status, 0, r.out);
});

test("the schema check sees ssh_keys: an unknown key type is rejected", (t) => {
  if (!requireTool(t, "cloud-init")) return;
  const r = schemaCheck("bad-ssh-keys", "#cloud-config\nssh_keys:\n  ed448_private: x\n");
  assert.notEqual(r.status, 0, r.out);
  assert.match(r.out, /ssh_keys/);
});

test("the generated host key is a working OpenSSH key: ssh-keygen signs with it and verifies the signature", (t) => {
  if (!requireTool(t, "ssh-keygen")) return;
  const key = join(dir, "sign_key");
  writeFileSync(key, HOST_KEY.privateKey, { mode: 0o600 });
  writeFileSync(join(dir, "data"), "payload");
  const signed = spawnSync("ssh-keygen", ["-Y", "sign", "-f", key, "-n", "file", join(dir, "data")], { encoding: "utf8" });
  assert.equal(signed.status, 0, signed.stderr);
  writeFileSync(join(dir, "allowed"), `node ${HOST_KEY.publicKey}\n`);
  const verified = spawnSync("sh", ["-c", `ssh-keygen -Y verify -f ${join(dir, "allowed")} -I node -n file -s ${join(dir, "data")}.sig < ${join(dir, "data")}`], { encoding: "utf8" });
  assert.equal(verified.status, 0, verified.stderr);
  assert.equal(hostKeyFromSecret("k".repeat(64), "node").privateKey, HOST_KEY.privateKey, "deterministic from its secret");
  assert.notEqual(hostKeyFromSecret("j".repeat(64), "node").publicKey, HOST_KEY.publicKey);
});

describe("a real sshd with the rendered settings and the generated host key (loopback)", () => {
  const sshd = "/usr/sbin/sshd";
  const cfg = loadStack("test");

  test("sshd -t accepts the hardening drop-in as rendered", (t) => {
    if (!requireTool(t, sshd)) return;
    mkdirSync("/run/sshd", { recursive: true });
    const hostKey = join(dir, "ssh_host_ed25519_key");
    writeFileSync(hostKey, HOST_KEY.privateKey, { mode: 0o600 });
    const conf = join(dir, "sshd_hardening.conf");
    writeFileSync(conf, sshdHardening(cfg).replace(HOST_KEY_PATH, hostKey) + `PidFile ${join(dir, "t.pid")}\n`);
    const r = spawnSync(sshd, ["-t", "-f", conf], { encoding: "utf8" });
    assert.equal(`${r.stdout}${r.stderr}`, "");
    assert.equal(r.status, 0);
    const extended = spawnSync(sshd, ["-T", "-f", conf, "-C", "user=deploy,host=h,addr=127.0.0.1"], { encoding: "utf8" });
    assert.match(extended.stdout, /^maxstartups 100:30:200$/m);
    assert.match(extended.stdout, /^allowagentforwarding no$/m);
    assert.match(extended.stdout, /^clientaliveinterval 30$/m);
    assert.match(extended.stdout, /^clientalivecountmax 4$/m);
    assert.deepEqual(extended.stdout.split("\n").filter((l) => l.startsWith("hostkey ")), [`hostkey ${hostKey}`]);
  });

  test("ssh with the Docker provider's options connects to the pinned key and refuses any other", async (t) => {
    if (!requireTool(t, sshd) || !requireTool(t, "ssh")) return;
    mkdirSync("/run/sshd", { recursive: true });
    const hostKey = join(dir, "pin_host_key");
    writeFileSync(hostKey, HOST_KEY.privateKey, { mode: 0o600 });
    const client = join(dir, "client_key");
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", client]);
    const port = 20000 + Math.floor(Math.random() * 20000);
    const conf = join(dir, "sshd_pin.conf");
    writeFileSync(conf, [
      `Port ${port}`, "ListenAddress 127.0.0.1", `HostKey ${hostKey}`, `PidFile ${join(dir, "pin.pid")}`,
      "PermitRootLogin prohibit-password", `AuthorizedKeysFile ${client}.pub`, "StrictModes no", "UsePAM no", "",
    ].join("\n"));
    const daemon = spawn(sshd, ["-D", "-e", "-f", conf], { stdio: ["ignore", "ignore", "pipe"] });
    t.after(() => daemon.kill());
    let log = "";
    daemon.stderr.on("data", (d: Buffer) => { log += d.toString(); });
    const ssh = (pin: string) => new Promise<{ code: number | null; err: string }>((resolve) => {
      const c = spawn("ssh", [...dockerSshOpts(pin), "-i", client, "-p", String(port), "-o", "IdentitiesOnly=yes", "root@127.0.0.1", "echo", "pinned-ok"]);
      let out = "";
      c.stdout.on("data", (d: Buffer) => { out += d.toString(); });
      c.stderr.on("data", (d: Buffer) => { out += d.toString(); });
      c.on("close", (code) => resolve({ code, err: out }));
    });
    let ok = await ssh(HOST_KEY.publicKey);
    for (let i = 0; i < 50 && ok.code !== 0 && /Connection refused/.test(ok.err); i++) {
      await new Promise((r) => setTimeout(r, 100));
      ok = await ssh(HOST_KEY.publicKey);
    }
    assert.equal(ok.code, 0, `${ok.err}\n--- sshd\n${log}`);
    assert.match(ok.err, /^pinned-ok$/m);
    const other = await ssh(hostKeyFromSecret("o".repeat(64), "other").publicKey);
    assert.equal(other.code, 255);
    assert.match(other.err, /Host key verification failed/);
  });
});
