import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { renderCloudInit } from "../core/cloudinit";
import { buildTopology } from "../core/topology";
import { loadStack } from "./support/config";
import { requireTool } from "./support/tools";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDboZlad/wBVVtVG4zMieQjszzWbiCdNIYXl9bG38+1f deploy";
const OPERATOR = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB8yjb9X6pOMUEDEaL2mtdCSexKRt0M+2TrF3gTbyy1W operator";
const FLOATING = "203.0.113.10";

interface CloudConfig {
  hostname: string;
  users: { name: string; ssh_authorized_keys: string[]; groups: string[]; lock_passwd: boolean; sudo: string }[];
  packages: (string | string[])[];
  write_files: { path: string; content: string; permissions: string }[];
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
        const text = renderCloudInit(cfg, { node, authorizedKeys: [KEY, OPERATOR], floatingIp: node.isEdge ? FLOATING : undefined });
        assert.ok(text.startsWith("#cloud-config\n"));
        const r = schemaCheck(`${stack}-${node.name}`, text);
        assert.equal(r.status, 0, r.out);
        assert.match(r.out, /Valid cloud-config/);
      }
    });

    test("exact settings: deploy user, hardened sshd, pinned Docker, daemon.json, prune timer", () => {
      const node = topology.nodes[0];
      const doc = parse(renderCloudInit(cfg, { node, authorizedKeys: [KEY, OPERATOR] })) as CloudConfig;
      assert.equal(doc.hostname, node.name);
      assert.equal(doc.ssh_pwauth, false);
      assert.equal(doc.disable_root, true);
      assert.deepEqual(doc.users.map((u) => [u.name, u.ssh_authorized_keys, u.groups, u.lock_passwd]), [["deploy", [KEY, OPERATOR], ["sudo", "docker"], true]]);
      assert.equal(file(doc, "/etc/ssh/sshd_config.d/10-swarm-platform.conf"),
        "Port 2222\nPermitRootLogin no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\nAllowUsers deploy\nX11Forwarding no\nMaxAuthTries 3\n");
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
      const doc = parse(renderCloudInit(cfg, { node: topology.edge, authorizedKeys: [KEY], floatingIp: FLOATING })) as CloudConfig;
      assert.equal(file(doc, "/etc/network/interfaces.d/60-floating-ip.cfg"), "auto eth0:1\niface eth0:1 inet static\n    address 203.0.113.10\n    netmask 32\n");
      assert.deepEqual(doc.runcmd[0], ["ifup", "eth0:1"]);
      assert.throws(() => renderCloudInit(cfg, { node: topology.edge, authorizedKeys: [KEY] }), /needs the floating IP/);
    });
  });
}

test("the schema check is real: a broken document is rejected", (t) => {
  if (!requireTool(t, "cloud-init")) return;
  const r = schemaCheck("broken", "#cloud-config\npackages: 5\nusers: nope\n");
  assert.notEqual(r.status, 0, r.out);
});
