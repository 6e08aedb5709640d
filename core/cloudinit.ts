import { stringify } from "yaml";
import type { CoreConfig } from "../stacks/config";
import type { NodeSpec } from "./topology";

/** Docker's Debian repository signing key (fingerprint published by Docker). */
export const DOCKER_APT_KEY_FINGERPRINT = "9DC858229FC7DD38854AE2D88D81803C0EBFCD88";
/** The default bridge MTU: containers on it must fit Hetzner's 1450-byte private network. */
export const DOCKER_BRIDGE_MTU = 1450;
/** Unused images older than this are pruned by the timer. */
export const IMAGE_PRUNE_AGE = "168h";

export interface CloudInitInput {
  readonly node: NodeSpec;
  /** Every key authorized for the deploy user (the deploy key's public half first). */
  readonly authorizedKeys: readonly string[];
  /** The floating IPv4 this node must answer on (edge node only). */
  readonly floatingIp?: string;
}

export function daemonJson(cfg: CoreConfig): Record<string, unknown> {
  return {
    "log-driver": "json-file",
    "log-opts": { "max-size": cfg.docker.logMaxSize, "max-file": String(cfg.docker.logMaxFile) },
    mtu: DOCKER_BRIDGE_MTU,
  };
}

export function sshdHardening(cfg: CoreConfig): string {
  return [
    `Port ${cfg.ssh.port}`,
    "PermitRootLogin no",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PubkeyAuthentication yes",
    `AllowUsers ${cfg.ssh.user}`,
    "X11Forwarding no",
    "MaxAuthTries 3",
    "",
  ].join("\n");
}

/** ifupdown stanza (Debian 12 on Hetzner) so the floating IP is back after every reboot. */
export function floatingIpInterface(ip: string): string {
  return ["auto eth0:1", "iface eth0:1 inet static", `    address ${ip}`, "    netmask 32", ""].join("\n");
}

/** The #cloud-config document of one node. Pure: same input, same bytes. */
export function renderCloudInit(cfg: CoreConfig, input: CloudInitInput): string {
  const { node } = input;
  if (input.authorizedKeys.length === 0) throw new Error(`cloud-init for ${node.name}: no authorized key`);
  if (node.isEdge && cfg.floatingIp && !input.floatingIp) throw new Error(`cloud-init for ${node.name}: the edge node needs the floating IP`);
  const files: Record<string, unknown>[] = [
    { path: "/etc/ssh/sshd_config.d/10-swarm-platform.conf", permissions: "0600", owner: "root:root", content: sshdHardening(cfg) },
    { path: "/etc/docker/daemon.json", permissions: "0644", owner: "root:root", content: JSON.stringify(daemonJson(cfg), null, 2) + "\n" },
    {
      path: "/etc/systemd/system/docker-image-prune.service",
      permissions: "0644",
      content: [
        "[Unit]",
        "Description=Remove unused Docker images",
        "Requires=docker.service",
        "After=docker.service",
        "",
        "[Service]",
        "Type=oneshot",
        `ExecStart=/usr/bin/docker image prune --all --force --filter until=${IMAGE_PRUNE_AGE}`,
        "",
      ].join("\n"),
    },
    {
      path: "/etc/systemd/system/docker-image-prune.timer",
      permissions: "0644",
      content: [
        "[Unit]",
        "Description=Prune unused Docker images on a schedule",
        "",
        "[Timer]",
        `OnCalendar=${cfg.docker.imagePruneSchedule}`,
        "RandomizedDelaySec=30m",
        "Persistent=true",
        "",
        "[Install]",
        "WantedBy=timers.target",
        "",
      ].join("\n"),
    },
  ];
  const runcmd: string[][] = [];
  if (node.isEdge && input.floatingIp) {
    files.push({ path: "/etc/network/interfaces.d/60-floating-ip.cfg", permissions: "0644", content: floatingIpInterface(input.floatingIp) });
    runcmd.push(["ifup", "eth0:1"]);
  }
  runcmd.push(
    ["systemctl", "daemon-reload"],
    ["systemctl", "enable", "--now", "docker.service", "docker-image-prune.timer"],
    ["systemctl", "restart", "ssh.service"],
  );
  const doc = {
    hostname: node.name,
    preserve_hostname: false,
    disable_root: true,
    ssh_pwauth: false,
    groups: ["docker"],
    users: [
      {
        name: cfg.ssh.user,
        gecos: "Swarm deploy user",
        shell: "/bin/bash",
        groups: ["sudo", "docker"],
        sudo: "ALL=(ALL) NOPASSWD:ALL",
        lock_passwd: true,
        ssh_authorized_keys: [...input.authorizedKeys],
      },
    ],
    apt: {
      sources: {
        "docker.list": {
          source: "deb [signed-by=$KEY_FILE] https://download.docker.com/linux/debian $RELEASE stable",
          keyid: DOCKER_APT_KEY_FINGERPRINT,
          keyserver: "keyserver.ubuntu.com",
        },
      },
    },
    package_update: true,
    package_upgrade: false,
    packages: [["docker-ce", cfg.docker.version], ["docker-ce-cli", cfg.docker.version], "containerd.io", "curl", "jq"],
    write_files: files,
    runcmd,
  };
  return "#cloud-config\n" + stringify(doc, { lineWidth: 0 });
}
