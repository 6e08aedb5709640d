import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { buildTopology } from "../core/topology";
import { buildPlatform } from "../platform/assemble";
import { vaultRunbook, VAULT_CONFIG_PATH } from "../families/vault/specs";
import { loadStack } from "./support/config";
import { vaultArea } from "../families/vault";

function platformOf(stack: "test" | "prod", overrides: Record<string, unknown> = {}) {
  const config = loadStack(stack, overrides);
  const topology = buildTopology(config);
  return { config, topology, platform: buildPlatform(config, topology).spec };
}

/** The server configuration a member reads, parsed from the Swarm config it mounts. */
function memberConfig(stack: "test" | "prod", member: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const { platform } = platformOf(stack, overrides);
  const service = platform.services.find((s) => s.name === member);
  assert.ok(service, `no service ${member}`);
  const ref = service.configs.find((c) => c.target === VAULT_CONFIG_PATH);
  assert.ok(ref, `${member} mounts no ${VAULT_CONFIG_PATH}`);
  const config = platform.configs.find((c) => c.key === ref.key);
  assert.ok(config);
  assert.match(config.name, new RegExp(`^${stack}_${member}-config_[0-9a-f]{10}$`));
  return JSON.parse(config.content) as Record<string, unknown>;
}

void describe("Vault server configuration (parsed JSON) per stack", () => {
  void test("prod vault-2: Raft with node_id = member, retry_join to the two others over TLS, addresses on member names", () => {
    assert.deepEqual(memberConfig("prod", "vault-2"), {
      ui: true,
      disable_mlock: true,
      cluster_name: "prod",
      api_addr: "https://vault-2:8200",
      cluster_addr: "https://vault-2:8201",
      storage: {
        raft: {
          path: "/vault/file",
          node_id: "vault-2",
          retry_join: [
            { leader_api_addr: "https://vault-1:8200", leader_ca_cert_file: "/run/secrets/vault-tls-certificate", leader_tls_servername: "vault-1" },
            { leader_api_addr: "https://vault-3:8200", leader_ca_cert_file: "/run/secrets/vault-tls-certificate", leader_tls_servername: "vault-3" },
          ],
        },
      },
      listener: [{
        tcp: {
          address: "0.0.0.0:8200",
          cluster_address: "0.0.0.0:8201",
          tls_cert_file: "/run/secrets/vault-tls-certificate",
          tls_key_file: "/run/secrets/vault-tls-key",
          tls_min_version: "tls12",
          telemetry: { unauthenticated_metrics_access: true },
        },
      }],
      telemetry: { prometheus_retention_time: "60s", disable_hostname: true },
    });
  });

  void test("test vault-1: a single member, plain HTTP, no retry_join", () => {
    const cfg = memberConfig("test", "vault-1");
    assert.equal(cfg.api_addr, "http://vault-1:8200");
    assert.equal(cfg.cluster_addr, "https://vault-1:8201");
    assert.deepEqual(cfg.storage, { raft: { path: "/vault/file", node_id: "vault-1" } });
    assert.deepEqual(cfg.listener, [{ tcp: { address: "0.0.0.0:8200", cluster_address: "0.0.0.0:8201", tls_disable: true, telemetry: { unauthenticated_metrics_access: true } } }]);
  });

  void test("vaultUi=false turns the UI off", () => {
    assert.equal(memberConfig("prod", "vault-1", { vaultUi: "false" }).ui, false);
  });

  void test("every member's config differs (node_id), so each has its own content-hashed config", () => {
    const { platform } = platformOf("prod");
    const names = platform.configs.filter((c) => /^vault-\d-config$/.test(c.key)).map((c) => c.name);
    assert.equal(new Set(names).size, 3);
  });
});

void describe("Vault services", () => {
  void test("prod: one pinned dnsrr service per member, own volume, TLS material as secret files readable by vault only", () => {
    const { platform } = platformOf("prod");
    const vault = platform.services.filter((s) => s.component === "vault");
    assert.deepEqual(vault.map((s) => [s.name, s.node, s.placement.constraints]), [
      ["vault-1", "prod-app-01", ["node.hostname == prod-app-01"]],
      ["vault-2", "prod-app-02", ["node.hostname == prod-app-02"]],
      ["vault-3", "prod-app-03", ["node.hostname == prod-app-03"]],
    ]);
    const v2 = vault[1];
    assert.equal(v2.image, "hashicorp/vault:1.18.3@sha256:8f1ba670da547c6af67be55609bd285c3ee3d8b73f88021adbfc43c82ca409e8");
    assert.deepEqual(v2.command, ["server"]);
    assert.equal(v2.hostname, "vault-2");
    assert.equal(v2.endpointMode, "dnsrr");
    assert.deepEqual(v2.mode, { replicas: 1 });
    assert.deepEqual(v2.ports, []);
    assert.deepEqual(v2.networks, [{ key: "platform", aliases: ["vault-2", "vault"] }, { key: "backend", aliases: ["vault-2"] }]);
    assert.deepEqual(v2.mounts, [{ type: "volume", source: "vault-2-data", target: "/vault/file", readOnly: false }]);
    assert.deepEqual(v2.secrets, [
      { key: "vault-tls-certificate", target: "/run/secrets/vault-tls-certificate", mode: 0o444, uid: "100", gid: "1000" },
      { key: "vault-tls-key", target: "/run/secrets/vault-tls-key", mode: 0o400, uid: "100", gid: "1000" },
    ]);
    assert.deepEqual(v2.env, {
      SKIP_SETCAP: "true",
      SKIP_CHOWN: "true",
      VAULT_ADDR: "https://127.0.0.1:8200",
      VAULT_CACERT: "/run/secrets/vault-tls-certificate",
      VAULT_TLS_SERVER_NAME: "vault-2",
    });
    assert.deepEqual(v2.healthcheck.test, ["CMD-SHELL", "vault status -format=json -address=https://127.0.0.1:8200 -ca-cert=/run/secrets/vault-tls-certificate -tls-server-name=vault-2 2>/dev/null | grep -q '\"sealed\"'"]);
    assert.deepEqual(v2.update, { parallelism: 1, delay: "10s", failureAction: "rollback", monitor: "30s", maxFailureRatio: 0, order: "stop-first" });
    assert.equal(v2.rollback.failureAction, "pause");
    assert.equal(v2.stateful, true);
    assert.equal(v2.labels["swarm-platform.member"], "vault-2");
    assert.deepEqual(platform.volumes.filter((v) => v.key.startsWith("vault-")).map((v) => [v.name, v.node]), [
      ["prod_vault-1-data", "prod-app-01"], ["prod_vault-2-data", "prod-app-02"], ["prod_vault-3-data", "prod-app-03"],
    ]);
    assert.deepEqual(platform.secrets.filter((s) => s.key.startsWith("vault-")).map((s) => [s.key, s.source]), [
      ["vault-tls-certificate", { kind: "setting", setting: "vaultTlsCertificate" }],
      ["vault-tls-key", { kind: "setting", setting: "vaultTlsKey" }],
    ]);
  });

  void test("no environment variable and no config of any Vault member carries key material", () => {
    const { platform, config } = platformOf("prod");
    const key = config.section(vaultArea).tlsKey.split("\n")[1];
    for (const s of platform.services.filter((x) => x.component === "vault")) {
      assert.ok(!JSON.stringify(s).includes(key));
    }
    for (const c of platform.configs) assert.ok(!c.content.includes(key), c.key);
  });

  void test("test: no TLS secrets, member on the first service worker", () => {
    const { platform } = platformOf("test");
    const vault = platform.services.filter((s) => s.component === "vault");
    assert.deepEqual(vault.map((s) => [s.name, s.node]), [["vault-1", "test-app-01"]]);
    assert.deepEqual(vault[0].secrets, []);
    assert.ok(!platform.secrets.some((s) => s.key.startsWith("vault-")));
  });
});

void describe("vaultRunbook: the exact init and unseal steps", () => {
  void test("prod: init on vault-1 (prod-app-01) with 5 shares / threshold 3, then unseal vault-2 and vault-3 on their nodes", () => {
    const { config, topology } = platformOf("prod");
    assert.deepEqual(vaultRunbook(config, topology), [
      "1. Log in to prod-app-01, the node of vault-1: ssh -p 2222 deploy@<public IP of prod-app-01 (output nodePublicIps)>",
      "2. Initialise the cluster once, on vault-1 only: docker exec -it \"$(docker ps -q -f name=vault-1\\.)\" vault operator init -key-shares=5 -key-threshold=3",
      "3. Hand the 5 unseal key(s) to separate holders and store the initial root token offline. Never put them in Pulumi config, a stack file, a shell history or a file on the servers.",
      "4. Unseal vault-1: run docker exec -it \"$(docker ps -q -f name=vault-1\\.)\" vault operator unseal 3 time(s), each holder typing a key at the prompt (not on the command line).",
      "5. On prod-app-02 (ssh -p 2222 deploy@<public IP of prod-app-02 (output nodePublicIps)>): vault-2 joins vault-1 by itself (retry_join); unseal it with the same keys: run docker exec -it \"$(docker ps -q -f name=vault-2\\.)\" vault operator unseal 3 time(s).",
      "6. On prod-app-03 (ssh -p 2222 deploy@<public IP of prod-app-03 (output nodePublicIps)>): vault-3 joins vault-1 by itself (retry_join); unseal it with the same keys: run docker exec -it \"$(docker ps -q -f name=vault-3\\.)\" vault operator unseal 3 time(s).",
      "7. Check the Raft peers (expect vault-1, vault-2, vault-3 as voters): docker exec -it \"$(docker ps -q -f name=vault-1\\.)\" sh -c 'vault login && vault operator raft list-peers'",
      "8. Set up auth methods and policies with the root token, then revoke it: docker exec -it \"$(docker ps -q -f name=vault-1\\.)\" vault token revoke -self",
      "9. Every restart of a member (node reboot, image or config change) seals it again: unseal it as in step 4 on its node, or configure auto-unseal (README, \"Vault runbook\").",
    ]);
  });

  void test("test: one member, one key, and the plain-HTTP warning last", () => {
    const { config, topology } = platformOf("test");
    const steps = vaultRunbook(config, topology);
    assert.equal(steps.length, 7);
    assert.match(steps[1], /vault operator init -key-shares=1 -key-threshold=1$/);
    assert.match(steps[0], /^1\. Log in to test-app-01, the node of vault-1/);
    assert.match(steps[6], /^WARNING: vaultTls is false/);
  });
});
