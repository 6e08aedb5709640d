import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import type { StackConfig } from "../stacks/config";
import { offlineVaultTls, vaultArea } from "../families/vault/settings";
import { apisixArea } from "../families/apisix";
import { monitoringArea } from "../families/monitoring";
import { edgeArea, LETSENCRYPT_PRODUCTION, LETSENCRYPT_STAGING } from "../families/edge/settings";
import { partWarnings } from "../platform/outputs";
import { loadStack, platformOf, problemsOf } from "./support/config";

/** The front families' sections without their images (the image settings are checked elsewhere). */
function frontOf(config: StackConfig) {
  const withoutImages = <T extends { images: unknown }>(section: T): Omit<T, "images"> => {
    const { images: _images, ...rest } = section;
    return rest;
  };
  return {
    vault: withoutImages(config.section(vaultArea)),
    apisix: withoutImages(config.section(apisixArea)),
    monitoring: withoutImages(config.section(monitoringArea)),
    edge: withoutImages(config.section(edgeArea)),
  };
}

/** A prod stack without a backup repository warns (families/backup); these tests are about the front's own warnings. */
const WITH_BACKUPS = { backupRepository: "s3:https://fsn1.your-objectstorage.com/acme-backups/prod" };

/** The plan warnings of the front families, in registry order. */
function frontWarnings(stack: "test" | "prod", overrides: Record<string, unknown> = {}): string[] {
  // Image pin warnings are the image settings' own (tests/provider-readback.test.ts).
  return partWarnings(platformOf(stack, overrides).assembled).filter((w) => !/^image\w+ is \S+, a tag without a digest/.test(w));
}

/** A certificate that names vault-1 only (test fixture, never deployed). */
const ONLY_VAULT_1 = {
  certificate: `-----BEGIN CERTIFICATE-----
MIIBoTCCAUmgAwIBAgIUMrdSCZVX14fATyNay7KiVenrBM0wCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRdGVzdC1vbmx5LXZhdWx0LTEwIBcNMjYxMTIyMTY1NjQ0WhgP
MjEyNjEwMjkxNjU2NDRaMBwxGjAYBgNVBAMMEXRlc3Qtb25seS12YXVsdC0xMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEPOUtgI0qiGDDjpLkv03k0u7KHoi3c5ya
dAOuX9oBPTpkOzm2l1mq5uHQcs+jB0vGLPBBXSnpEJrD8zRsPVl0cqNnMGUwHQYD
VR0OBBYEFN7pJWX6LhiI4A4/U4Wktxg0BOeiMB8GA1UdIwQYMBaAFN7pJWX6LhiI
4A4/U4Wktxg0BOeiMA8GA1UdEwEB/wQFMAMBAf8wEgYDVR0RBAswCYIHdmF1bHQt
MTAKBggqhkjOPQQDAgNGADBDAh9mvXFquaQWwSxJ0LOQ4MWrfMFmNNJd3Bjz2myo
GocqAiAYHjhgBJEwoZ1l5Qf/gJFt3a7TeCkIPUh8m64uLRvGtQ==
-----END CERTIFICATE-----
`,
  key: `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgjna6VN/ihJMyCKPG
W3wM/5leIrgHu/s86XHbGSpv4xGhRANCAAQ85S2AjSqIYMOOkuS/TeTS7soeiLdz
nJp0A65f2gE9OmQ7ObaXWarm4dByz6MHS8Ys8EFdKekQmsPzNGw9WXRy
-----END PRIVATE KEY-----
`,
};

/** A mounted Storage Box: the prod edge and Grafana keep their data on it. */
const STORAGE_BOX = { storageBoxShare: "//u123456-sub1.your-storagebox.de/u123456-sub1", storageBoxUser: "u123456-sub1", storageBoxPassword: "box-password" };

void describe("front settings: profile defaults", () => {
  void test("test: one Vault member over HTTP, one APISIX with local counters, staging ACME, volumes", () => {
    const f = frontOf(loadStack("test"));
    assert.deepEqual({ ...f.vault, tlsCertificate: undefined, tlsKey: undefined }, { members: 1, ui: true, tls: false, tlsCertificate: undefined, tlsKey: undefined });
    assert.deepEqual(f.apisix, { replicas: 1, rateLimitPolicy: "local", apiUpstream: "api:8080" });
    assert.deepEqual(f.monitoring, { node: "test-app-02", prometheusRetention: "7d", prometheusRetentionSize: "5GB", grafanaDataDir: "", alertWebhookUrl: "" });
    assert.deepEqual({ ...f.edge, failoverToken: undefined }, { domains: [], acmeEmail: "", acmeCa: LETSENCRYPT_STAGING, dataDir: "", failoverToken: undefined });
  });

  void test("prod: three TLS Vault members, three APISIX with Redis counters, StorageBox Grafana, production ACME", () => {
    const f = frontOf(loadStack("prod"));
    assert.equal(f.vault.members, 3);
    assert.equal(f.vault.tls, true);
    assert.equal(f.vault.tlsCertificate, offlineVaultTls().certificate);
    assert.deepEqual(f.apisix, { replicas: 3, rateLimitPolicy: "redis", apiUpstream: "api:8080" });
    assert.deepEqual(f.monitoring, { node: "prod-app-03", prometheusRetention: "30d", prometheusRetentionSize: "40GB", grafanaDataDir: "/mnt/storagebox/grafana/data", alertWebhookUrl: "" });
    assert.equal(f.edge.acmeCa, LETSENCRYPT_PRODUCTION);
    assert.equal(f.edge.dataDir, "/mnt/storagebox/edge/caddy");
  });
});

/** [what, stack, overrides, key named, text of the expectation] */
const BAD: [string, "test" | "prod", Record<string, unknown>, string, string][] = [
  ["even Vault member count", "prod", { vaultMembers: "2" }, "vaultMembers", "1, 3 or 5"],
  ["more Vault members than service nodes", "prod", { vaultMembers: "5" }, "vaultMembers", "at most 3 (one member per active type=service node: prod-app-01, prod-app-02, prod-app-03)"],
  ["more APISIX replicas than service nodes", "prod", { apisixReplicas: "4" }, "apisixReplicas", "at most 3"],
  ["unknown rate-limit policy", "prod", { apisixRateLimitPolicy: "sentinel" }, "apisixRateLimitPolicy", 'one of "local", "redis"'],
  ["upstream without port", "test", { apisixApiUpstream: "api" }, "apisixApiUpstream", "host:port"],
  ["TLS without material", "test", { vaultTls: "true", vaultTlsCertificate: "", vaultTlsKey: "" }, "vaultTlsCertificate", "required when vaultTls is true"],
  ["TLS without key", "test", { vaultTls: "true", vaultTlsKey: "" }, "vaultTlsKey", "required when vaultTls is true"],
  ["certificate not PEM", "prod", { vaultTlsCertificate: "hello" }, "vaultTlsCertificate", "a PEM certificate chain"],
  ["certificate missing member names", "prod", { vaultTlsCertificate: ONLY_VAULT_1.certificate, vaultTlsKey: ONLY_VAULT_1.key }, "vaultTlsCertificate", "missing DNS:vault-2, DNS:vault-3"],
  ["key of another certificate", "prod", { vaultTlsKey: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "pkcs8" }).toString() }, "vaultTlsKey", "the private key of the first certificate"],
  ["monitoring node that is not a service node", "prod", { monitoringNode: "prod-mgr-01" }, "monitoringNode", "an active type=service node of this stack (prod-app-01, prod-app-02, prod-app-03)"],
  ["retention in minutes", "test", { prometheusRetention: "90m" }, "prometheusRetention", "a Prometheus duration"],
  ["relative Grafana path", "prod", { grafanaDataDir: "grafana/data" }, "grafanaDataDir", "an absolute path"],
  ["webhook not a URL", "test", { alertWebhookUrl: "hooks.example.com/x" }, "alertWebhookUrl", "an http(s) URL"],
  ["domains without ACME e-mail", "prod", { edgeDomains: ["api.example.com"] }, "edgeAcmeEmail", "required when edgeDomains is set"],
  ["uppercase domain", "prod", { edgeDomains: ["API.example.com"], edgeAcmeEmail: "ops@example.com" }, "edgeDomains[0]", "a lowercase DNS name"],
  ["plain-http ACME directory", "prod", { edgeAcmeCa: "http://acme.example.com/dir" }, "edgeAcmeCa", "an https ACME directory URL"],
];

void describe("front settings: every bad value is a ConfigError naming its key", () => {
  for (const [what, stack, overrides, key, expected] of BAD) {
    void test(what, () => {
      const err = problemsOf(() => loadStack(stack, overrides));
      const problem = err.problems.find((p) => p.key === key);
      assert.ok(problem, `no problem for ${key}; got ${err.keys.join(", ")}`);
      assert.ok(problem.expected.includes(expected), `expected text for ${key}: ${problem.expected}`);
    });
  }

  void test("secret values never appear in the error", () => {
    const err = problemsOf(() => loadStack("prod", { vaultTlsCertificate: ONLY_VAULT_1.certificate, vaultTlsKey: ONLY_VAULT_1.key }));
    assert.ok(!err.message.includes("MIIBoTCC"), err.message);
    assert.ok(err.message.includes("[secret"), err.message);
  });

  void test("a certificate naming every member with its own key is accepted", () => {
    const f = frontOf(loadStack("test", { vaultTls: "true" }));
    assert.equal(f.vault.tls, true);
    assert.equal(f.vault.tlsKey, offlineVaultTls().key);
  });
});

void describe("front warnings for the plan", () => {
  void test("test stack: HTTP Vault, HTTP-only edge, no receiver", () => {
    const w = frontWarnings("test");
    assert.equal(w.length, 3);
    assert.match(w[0], /^Vault runs WITHOUT TLS \(vaultTls=false\)/);
    assert.match(w[1], /plain HTTP on port 80 only/);
    assert.match(w[2], /Alertmanager has no receiver/);
  });

  void test("prod stack with domains, a webhook and backups has none", () => {
    assert.deepEqual(frontWarnings("prod", { edgeDomains: ["api.example.com"], edgeAcmeEmail: "ops@example.com", alertWebhookUrl: "https://hooks.example.com/t/abc", ...WITH_BACKUPS, ...STORAGE_BOX }), []);
  });

  void test("local counters with several replicas multiply the limits", () => {
    const w = frontWarnings("prod", { apisixRateLimitPolicy: "local", edgeDomains: ["api.example.com"], edgeAcmeEmail: "ops@example.com", alertWebhookUrl: "https://hooks.example.com/t/abc", ...WITH_BACKUPS, ...STORAGE_BOX });
    assert.deepEqual(w, ["apisixRateLimitPolicy=local with 3 APISIX replicas: every instance counts on its own, so the effective limits are 3 times the declared ones. Use redis."]);
  });
});
