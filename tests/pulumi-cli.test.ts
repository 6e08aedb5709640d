import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { ROOT, TEST_PRIVATE_KEY } from "./support/config";
import { checkStack, missingMessage } from "../stacks/pulumi-cli";
import { pulumiYamlConfig } from "../tools/gen-config";
import { ALL_SETTINGS, loadStackConfig } from "../platform/config";
import { ConfigError } from "../stacks/errors";
import { PROFILE_DEFAULT } from "../stacks/schema";

const SECRET_SETTINGS = ALL_SETTINGS.filter((d) => d.secret).map((d) => d.key);
const PROJECT_TEXT = readFileSync(join(ROOT, "Pulumi.yaml"), "utf8");

function check(stack: string, stackText: string, projectText = PROJECT_TEXT) {
  return checkStack({
    stack,
    project: { path: "Pulumi.yaml", text: projectText },
    stackFile: { path: `Pulumi.${stack}.yaml`, text: stackText },
    secretSettings: SECRET_SETTINGS,
  });
}

function plan(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "tools", "plan.ts"), ...args], { encoding: "utf8", cwd: ROOT, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A PEM private key as a person would paste it into a stack file. */
const PEM_KEY = TEST_PRIVATE_KEY.trim().split("\n").map((l) => `    ${l}`).join("\n");

describe("Pulumi.yaml as the Pulumi CLI reads it", () => {
  test("no declaration combines secret: true with a default (the CLI refuses every stack that does not set it)", () => {
    for (const doc of [pulumiYamlConfig(), (parse(PROJECT_TEXT) as { config: Record<string, unknown> }).config]) {
      const both = Object.entries(doc).filter(([, d]) => (d as { secret?: boolean }).secret && (d as { default?: unknown }).default !== undefined).map(([k]) => k);
      assert.deepEqual(both, []);
    }
  });

  test("every setting with a program default has a default in Pulumi.yaml, typed ones of their type", () => {
    const declared = (parse(PROJECT_TEXT) as { config: Record<string, { type?: string; default?: unknown }> }).config;
    for (const def of ALL_SETTINGS) {
      if (def.default === undefined && def.key !== "profile") continue;
      assert.notEqual(declared[def.key]?.default, undefined, `${def.key} needs a default in Pulumi.yaml`);
    }
    assert.equal(declared.nodePools.default, PROFILE_DEFAULT);
    assert.equal(declared.nodePools.type, undefined, "a string default with type: array fails Project.Validate");
    assert.equal(declared.namePrefix.type, "string");
    assert.equal(declared.profile.default, "");
    assert.deepEqual(check("test", "config: {}\n").errors.filter((e) => !e.message.includes("missing configuration")), []);
  });

  test("the Pulumi.yaml of the previous release is refused with the CLI's words", () => {
    const old = execFileSync("git", ["show", "904c05a:Pulumi.yaml"], { cwd: ROOT, encoding: "utf8" });
    const stackText = execFileSync("git", ["show", "904c05a:Pulumi.prod.yaml"], { cwd: ROOT, encoding: "utf8" });
    const messages = check("prod", stackText, old).errors.map((e) => e.message);
    for (const key of ["alertWebhookUrl", "vaultTlsCertificate", "vaultTlsKey"]) {
      assert.ok(messages.includes(`Stack 'prod' with configuration key '${key}' must be encrypted as it's secret`), messages.join("\n"));
    }
    const minimal = check("prod", "config:\n  swarm-platform:sshAllowedCidrs:\n    - 192.0.2.0/24\n", old);
    assert.ok(minimal.missingMessage?.startsWith("Stack 'prod' is missing configuration values "), minimal.missingMessage);
    assert.match(minimal.missingMessage ?? "", /'nodePools'/);
  });

  test("the CLI's sentence for missing keys, word for word (config.go formatMissingKeys)", () => {
    assert.equal(missingMessage("prod", ["a"]), "Stack 'prod' is missing configuration value 'a'");
    assert.equal(missingMessage("prod", ["b", "a"]), "Stack 'prod' is missing configuration values 'a' and 'b'");
    assert.equal(missingMessage("prod", ["c", "a", "b"]), "Stack 'prod' is missing configuration values 'a', 'b' and 'c'");
  });

  test("a list written as JSON text in a string fails the CLI's array type", () => {
    const r = check("test", "config:\n  swarm-platform:sshAllowedCidrs: '[\"192.0.2.0/24\"]'\n  swarm-platform:sshPort: twenty\n");
    const messages = r.errors.map((e) => e.message);
    assert.ok(messages.includes("Pulumi.test.yaml:2:3: Stack 'test' with configuration key 'sshAllowedCidrs' must be of type 'array<string>'"), messages.join("\n"));
    assert.ok(messages.includes("Pulumi.test.yaml:3:3: Stack 'test' with configuration key 'sshPort' must be of type 'integer'"), messages.join("\n"));
  });
});

describe("stack files that leave settings out", () => {
  test("no profile, no nodePools: the profile is the stack name and supplies the pools", () => {
    const r = check("test", "config:\n  swarm-platform:sshAllowedCidrs:\n    - 192.0.2.0/24\n");
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.missingSecrets.map((m) => m.key), ["swarm-platform:sshPrivateKey"]);
    assert.equal(r.config["swarm-platform:nodePools"], PROFILE_DEFAULT);
    const cfg = loadStackConfig("test", { ...r.config, "swarm-platform:sshPrivateKey": TEST_PRIVATE_KEY });
    assert.equal(cfg.profile, "test");
    assert.deepEqual(cfg.nodePools.map((p) => `${p.name}:${p.count}:${p.serverType}`), ["mgr:1:cx23", "app:2:cx33"]);
    assert.equal(cfg.protect, false);
    assert.deepEqual(cfg.edgeCandidates, ["test-app-01"]);
  });

  test("a stack named otherwise takes its profile from the file, and the profile's defaults", () => {
    const r = check("staging", "config:\n  swarm-platform:profile: prod\n  swarm-platform:vaultTls: false\n  swarm-platform:sshAllowedCidrs:\n    - 192.0.2.0/24\n");
    assert.deepEqual(r.errors, []);
    const cfg = loadStackConfig("staging", { ...r.config, "swarm-platform:sshPrivateKey": TEST_PRIVATE_KEY, "swarm-platform:edgeFailoverToken": "StandInToken0123456789" });
    assert.equal(cfg.profile, "prod");
    assert.deepEqual(cfg.nodePools.map((p) => `${p.name}:${p.count}:${p.serverType}`), ["mgr:3:cx23", "app:3:cx43"]);
    assert.equal(cfg.protect, true);
  });
});

describe("secrets in stack files", () => {
  test("a private key in plain text is refused with the key and the command", () => {
    const r = check("test", `config:\n  swarm-platform:sshAllowedCidrs:\n    - 192.0.2.0/24\n  swarm-platform:sshPrivateKey: |\n${PEM_KEY}\n`);
    const e = r.errors.find((x) => x.key === "swarm-platform:sshPrivateKey");
    assert.ok(e, JSON.stringify(r.errors));
    assert.equal(e.message, "Pulumi.test.yaml:4:3: Stack 'test' with configuration key 'sshPrivateKey' must be encrypted as it's secret");
    assert.equal(e.fix, "delete the line from Pulumi.test.yaml and run: pulumi config set --secret sshPrivateKey < <key file>");
    assert.ok(!JSON.stringify(r.errors).includes(TEST_PRIVATE_KEY.split("\n")[1]), "the key itself is never echoed");
  });

  test("hcloud:token, a foreign password and a private key under any name are refused; encrypted values pass", () => {
    const r = check("test", [
      "config:",
      "  swarm-platform:sshAllowedCidrs:",
      "    - 192.0.2.0/24",
      "  hcloud:token: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
      "  other:password: hunter2",
      "  swarm-platform:sshPrivateKey:",
      "    secure: v1:abc",
      "  mine:deployKey: |",
      PEM_KEY,
      "  swarm-platform:vaultTlsKey: |",
      PEM_KEY,
      "",
    ].join("\n"));
    assert.deepEqual(r.errors.map((e) => e.key), ["hcloud:token", "other:password", "mine:deployKey", "swarm-platform:vaultTlsKey"]);
    assert.match(r.errors[3].message, /^Pulumi\.test\.yaml:\d+:3: Stack 'test' holds configuration key 'swarm-platform:vaultTlsKey' in plain text; the program reads 'swarm-platform:vaultTlsKey' as a secret, so it must be encrypted$/);
    assert.equal(r.errors[3].fix, "delete the line from Pulumi.test.yaml and run: pulumi config set --secret vaultTlsKey < key.pem");
    assert.match(r.errors[0].fix, /pulumi config set --secret hcloud:token <value> \(or export HCLOUD_TOKEN\)$/);
    assert.deepEqual(r.secureKeys, ["swarm-platform:sshPrivateKey"]);
    assert.deepEqual(r.missingSecrets, []);
  });

  test("the program itself refuses a plain secret setting and a plain hcloud:token (pulumi preview)", () => {
    const raw = { ...check("test", "config:\n  swarm-platform:sshAllowedCidrs:\n    - 192.0.2.0/24\n").config, "swarm-platform:sshPrivateKey": TEST_PRIVATE_KEY, "hcloud:token": "x".repeat(64) };
    let err: unknown;
    try {
      loadStackConfig("test", raw, { secretKeys: [] });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.keys.sort(), ["hcloud:token", "sshPrivateKey"]);
    assert.match(err.message, /swarm-platform:sshPrivateKey: expected an encrypted value, not plain text in the stack file \(remove it there and run: pulumi config set --secret sshPrivateKey < <key file>\)/);
    assert.equal(loadStackConfig("test", raw, { secretKeys: ["swarm-platform:sshPrivateKey", "hcloud:token"] }).profile, "test");
  });
});

describe("npm run plan applies the CLI's rules", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "plan-cli-rules-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const project = (name: string, stackText: string): string => {
    const d = join(dir, name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "Pulumi.yaml"), PROJECT_TEXT);
    writeFileSync(join(d, "Pulumi.test.yaml"), stackText);
    return d;
  };

  test("a missing secret: says pulumi preview would stop there, prints the command, plans with named stand-ins", () => {
    const r = plan(["--stack", "prod", "--format", "json"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /`pulumi preview` would stop here: Stack 'prod' is missing configuration value 'sshPrivateKey'/);
    assert.match(r.stderr, /^ {4}pulumi config set --secret sshPrivateKey < <key file>$/m);
    assert.match(r.stderr, /^ {4}pulumi config set --secret vaultTlsCertificate < chain\.pem$/m);
    const report = JSON.parse(r.stdout);
    assert.equal(report.resourceCounts["hcloud:index/server:Server"], 6);
    assert.ok(report.warnings.some((w: string) => w.includes("would stop here")));
    // Stand-ins are derived from the key's name: the same on every run.
    assert.equal(JSON.parse(plan(["--stack", "prod", "--format", "json"]).stdout).outputs.deployPublicKey, report.outputs.deployPublicKey);
  });

  test("--strict fails with a non-zero exit instead", () => {
    const r = plan(["--stack", "test", "--strict", "--format", "json"]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /`pulumi preview` would stop here: Stack 'test' is missing configuration value 'sshPrivateKey'/);
    assert.match(r.stderr, /--strict: no stand-ins/);
  });

  test("a plain-text private key and a bad value are refused together, with file:line:col", () => {
    const d = project("plain", `config:\n  swarm-platform:sshAllowedCidrs:\n    - 192.0.2.0/24\n  swarm-platform:sshPort: 4789\n  swarm-platform:sshPrivateKey: |\n${PEM_KEY}\n`);
    const r = plan(["--stack", "test", "--dir", d]);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, /Pulumi\.test\.yaml:5:3: Stack 'test' with configuration key 'sshPrivateKey' must be encrypted as it's secret/);
    assert.match(r.stderr, /fix: delete the line from .*Pulumi\.test\.yaml and run: pulumi config set --secret sshPrivateKey < <key file>/);
    assert.match(r.stderr, /swarm-platform:sshPort: expected a port other than 2377, 7946, 4789, 80, 443, got 4789/);
  });

  test("a YAML syntax error names the file, line and column", () => {
    const d = project("yaml", "config:\n  swarm-platform:sshAllowedCidrs: [192.0.2.0/24\n  swarm-platform:sshPort: 22\n");
    const r = plan(["--stack", "test", "--dir", d]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /Pulumi\.test\.yaml:\d+:\d+: invalid YAML: /);
  });

  test("a stack file with nothing but the admin ranges plans with the profile's pools", () => {
    const d = project("minimal", "config:\n  swarm-platform:sshAllowedCidrs:\n    - 192.0.2.0/24\n");
    const r = plan(["--stack", "test", "--dir", d, "--format", "json"]);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual(report.nodes.map((n: { name: string }) => n.name), ["test-mgr-01", "test-app-01", "test-app-02"]);
  });
});
