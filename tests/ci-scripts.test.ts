/**
 * The CI scripts (scripts/ci/) against a stand-in for exactly the Hetzner Cloud
 * API calls they make: a Node HTTP server on loopback that checks the
 * Authorization header of every call and the body of every write, answers like
 * Hetzner (error bodies, actions that run, then succeed or fail) and can refuse
 * with 429 to exercise the backoff. It is a stand-in: it proves what the scripts
 * send and how they react, not that Hetzner accepts it (scripts/ci/hcloud.sh
 * names the hcloud-go source each request shape comes from).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { requireTool } from "./support/tools";

const ROOT = join(__dirname, "..");
const DOOR = join(ROOT, "scripts", "ci", "ssh-door.sh");
const TOKEN = "StandInToken0123456789abcdefABCDEF";
const READ_ONLY_TOKEN = "StandInReadOnly0123456789";

const tmp = mkdtempSync(join(tmpdir(), "ci-scripts-test-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/* ---------------------------------------------------------------- stand-in */

interface Rule {
  direction: string;
  protocol: string;
  port?: string;
  source_ips?: string[];
  destination_ips?: string[];
  description?: string;
}
interface Firewall {
  id: number;
  name: string;
  labels: Record<string, string>;
  rules: Rule[];
  servers: number[];
}
interface Named {
  id: number;
  name: string;
  labels: Record<string, string>;
}
interface Recorded {
  method: string;
  path: string;
  query: Record<string, string>;
  auth: string | undefined;
  body: unknown;
  at: number;
}
type Outcome = "success" | "never" | { code: string; message: string };

const RULE_KEYS = ["direction", "protocol", "port", "source_ips", "destination_ips", "description"];
const LIST_KINDS = ["servers", "firewalls", "networks", "placement_groups", "floating_ips", "primary_ips", "volumes", "load_balancers", "ssh_keys"];

function validCidr(value: unknown): boolean {
  if (typeof value !== "string") return false;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value);
  if (v4) return v4.slice(1, 5).every((o) => Number(o) <= 255) && Number(v4[5]) <= 32;
  const v6 = /^([0-9a-fA-F:]+)\/(\d{1,3})$/.exec(value);
  return v6 !== null && v6[1].includes(":") && Number(v6[2]) <= 128;
}

/** What Hetzner would refuse in a set_rules body (schema.FirewallActionSetRulesRequest), or undefined. */
function setRulesProblem(body: unknown): string | undefined {
  if (!body || typeof body !== "object" || Array.isArray(body)) return "body must be a JSON object";
  const keys = Object.keys(body);
  if (keys.length !== 1 || keys[0] !== "rules") return `body must have exactly the key rules, has ${keys.join(", ")}`;
  const rules = (body as { rules: unknown }).rules;
  if (!Array.isArray(rules)) return "rules must be an array";
  for (const [i, r] of rules.entries()) {
    if (!r || typeof r !== "object") return `rules[${i}] must be an object`;
    const extra = Object.keys(r).filter((k) => !RULE_KEYS.includes(k));
    if (extra.length > 0) return `rules[${i}] has unknown keys ${extra.join(", ")}`;
    const rule = r as Rule;
    if (!["in", "out"].includes(rule.direction)) return `rules[${i}].direction must be in or out`;
    if (!["tcp", "udp", "icmp", "esp", "gre"].includes(rule.protocol)) return `rules[${i}].protocol is invalid`;
    if (["tcp", "udp"].includes(rule.protocol) && !/^(\d{1,5}(-\d{1,5})?|any)$/.test(rule.port ?? "")) return `rules[${i}].port is required for ${rule.protocol}`;
    if (rule.direction === "in" && (!Array.isArray(rule.source_ips) || rule.source_ips.length === 0 || !rule.source_ips.every(validCidr))) {
      return `rules[${i}].source_ips must be a non-empty list of CIDRs`;
    }
    if (rule.description !== undefined && (typeof rule.description !== "string" || rule.description.length > 255)) return `rules[${i}].description is too long`;
  }
  return undefined;
}

class HetznerStandIn {
  readonly requests: Recorded[] = [];
  firewalls: Firewall[] = [];
  servers: Named[] = [];
  /** Other kinds that carry labels (networks, ssh_keys, ...), for the leak check. */
  labelled: Record<string, Named[]> = {};
  /** "METHOD /v1/path/{id}/..." -> how many 429 answers come before the real one. */
  rateLimited = new Map<string, number>();
  /** GETs of an action that still see it running. */
  actionPolls = 1;
  actionOutcome: Outcome = "success";
  ipv4Answer = "203.0.113.7";
  onReboot?: (server: Named) => void;
  url = "";
  private server?: Server;
  private nextId = 9000;
  private readonly actions = new Map<number, { command: string; polls: number; resources: { id: number; type: string }[] }>();

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let raw = "";
      req.on("data", (c: Buffer) => (raw += c.toString()));
      req.on("end", () => this.handle(req, res, raw));
    });
    await new Promise<void>((ok) => this.server!.listen(0, "127.0.0.1", ok));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((ok) => this.server?.close(() => ok()));
  }

  /** Action ids start again at 9000, so each test can name the ones it expects. */
  resetActions(): void {
    this.actions.clear();
    this.nextId = 9000;
  }

  calls(): string[] {
    return this.requests.map((r) => `${r.method} ${r.path}`);
  }

  private action(command: string, resources: { id: number; type: string }[]): Record<string, unknown> {
    const id = this.nextId++;
    this.actions.set(id, { command, polls: 0, resources });
    return { id, command, status: "running", progress: 0, started: "2026-01-01T00:00:00+00:00", finished: null, resources, error: null };
  }

  private handle(req: IncomingMessage, res: ServerResponse, raw: string): void {
    const url = new URL(req.url ?? "/", "http://stand-in");
    const method = req.method ?? "GET";
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { "Content-Type": "application/json", ...headers });
      res.end(JSON.stringify(body));
    };
    const fail = (status: number, code: string, message: string): void => send(status, { error: { code, message, details: {} } });

    if (url.pathname === "/ip") {
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end(this.ipv4Answer);
      return;
    }
    let body: unknown;
    try {
      body = raw === "" ? undefined : JSON.parse(raw);
    } catch {
      body = { unparsable: raw };
    }
    this.requests.push({ method, path: url.pathname, query: Object.fromEntries(url.searchParams), auth: req.headers.authorization, body, at: Date.now() });

    if (req.headers.authorization !== `Bearer ${TOKEN}` && req.headers.authorization !== `Bearer ${READ_ONLY_TOKEN}`) {
      fail(401, "unauthorized", "unable to authenticate");
      return;
    }
    if (req.headers.authorization === `Bearer ${READ_ONLY_TOKEN}` && method !== "GET") {
      fail(403, "token_readonly", "The token is only allowed to perform GET requests");
      return;
    }
    const template = `${method} ${url.pathname.replace(/\/\d+/g, "/{id}")}`;
    const refusals = this.rateLimited.get(template) ?? 0;
    if (refusals > 0) {
      this.rateLimited.set(template, refusals - 1);
      res.writeHead(429, { "Content-Type": "application/json", "RateLimit-Limit": "3600", "RateLimit-Remaining": "0", "RateLimit-Reset": "1767225600" });
      res.end(JSON.stringify({ error: { code: "rate_limit_exceeded", message: "limit of 3600 requests per hour reached", details: {} } }));
      return;
    }
    if (body !== undefined && req.headers["content-type"] !== "application/json") {
      fail(415, "invalid_input", "a body must be sent as application/json");
      return;
    }

    const matches = (labels: Record<string, string>): boolean => {
      const selector = url.searchParams.get("label_selector");
      if (selector === null) return true;
      return selector.split(",").every((term) => {
        const [k, v] = term.split("=");
        return labels[k] === v;
      });
    };
    const segments = url.pathname.split("/").filter(Boolean);
    const id = Number(segments[2]);

    if (method === "GET" && url.pathname === "/v1/firewalls") {
      send(200, {
        firewalls: this.firewalls.filter((f) => matches(f.labels)).map((f) => ({
          id: f.id, name: f.name, labels: f.labels, created: "2026-01-01T00:00:00+00:00",
          rules: f.rules.map((r) => ({ destination_ips: [], port: null, description: null, ...r })),
          applied_to: f.servers.map((s) => ({ type: "server", server: { id: s } })),
        })),
        meta: { pagination: { page: 1, per_page: 25, total_entries: 1 } },
      });
      return;
    }
    if (method === "POST" && segments[1] === "firewalls" && segments[3] === "actions" && segments[4] === "set_rules") {
      const fw = this.firewalls.find((f) => f.id === id);
      if (!fw) return fail(404, "not_found", `firewall with ID ${id} not found`);
      const problem = setRulesProblem(body);
      if (problem) return fail(400, "invalid_input", problem);
      fw.rules = (body as { rules: Rule[] }).rules;
      send(201, { actions: [this.action("set_firewall_rules", [{ id, type: "firewall" }]), ...fw.servers.map((s) => this.action("apply_firewall", [{ id, type: "firewall" }, { id: s, type: "server" }]))] });
      return;
    }
    if (method === "GET" && segments[1] === "actions" && segments.length === 3) {
      const a = this.actions.get(id);
      if (!a) return fail(404, "not_found", `action with ID ${id} not found`);
      a.polls++;
      const outcome = this.actionOutcome;
      const done = outcome !== "never" && a.polls > this.actionPolls;
      const status = !done ? "running" : outcome === "success" ? "success" : "error";
      send(200, {
        action: {
          id, command: a.command, status, progress: done ? 100 : 50, started: "2026-01-01T00:00:00+00:00",
          finished: done ? "2026-01-01T00:00:05+00:00" : null, resources: a.resources,
          error: status === "error" && typeof outcome === "object" ? outcome : null,
        },
      });
      return;
    }
    if (method === "GET" && url.pathname === "/v1/servers") {
      const name = url.searchParams.get("name");
      send(200, { servers: this.servers.filter((s) => (name === null || s.name === name) && matches(s.labels)).map((s) => ({ ...s, status: "running" })) });
      return;
    }
    if (method === "POST" && segments[1] === "servers" && segments[3] === "actions" && segments[4] === "reboot") {
      const server = this.servers.find((s) => s.id === id);
      if (!server) return fail(404, "not_found", `server with ID ${id} not found`);
      if (body !== undefined) return fail(400, "invalid_input", "reboot takes no body");
      this.onReboot?.(server);
      send(201, { action: this.action("reboot_server", [{ id, type: "server" }]) });
      return;
    }
    if (method === "GET" && segments.length === 2 && LIST_KINDS.includes(segments[1])) {
      send(200, { [segments[1]]: (this.labelled[segments[1]] ?? []).filter((x) => matches(x.labels)) });
      return;
    }
    fail(404, "not_found", `the stand-in does not serve ${method} ${url.pathname}`);
  }
}

/* ------------------------------------------------------------------ running */

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

const REAL_CURL = spawnSync("sh", ["-c", "command -v curl"], { encoding: "utf8" }).stdout.trim();
const SHIMS = join(tmp, "shims");
const CURL_ARGV = join(tmp, "curl-argv.log");
mkdirSync(SHIMS);
// Records every command line curl gets, so a test can show the token is on none of them.
writeFileSync(join(SHIMS, "curl"), `#!/bin/sh\nprintf '%s\\n' "$*" >>"${CURL_ARGV}"\nexec ${REAL_CURL} "$@"\n`);
chmodSync(join(SHIMS, "curl"), 0o755);

/** Runs a script asynchronously (the stand-in answers from this process) with only the given environment. */
function run(script: string, args: string[], env: Record<string, string>, input = "", path = `${SHIMS}:/usr/local/bin:/usr/bin:/bin`): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn("bash", [script, ...args], { env: { PATH: path, HOME: tmp, LANG: "C.UTF-8", ...env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/* -------------------------------------------------------------------- door */

const DOOR_LABELS = { "managed-by": "pulumi", project: "swarm-platform", stack: "test", role: "ci-door" };

void describe("ssh-door.sh against the Hetzner stand-in", () => {
  const api = new HetznerStandIn();
  before(() => api.start());
  after(() => api.stop());

  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    HCLOUD_TOKEN: TOKEN,
    HCLOUD_ENDPOINT: `${api.url}/v1`,
    STACK: "test",
    SSH_PORT: "2222",
    DOOR_TTL_MINUTES: "70",
    DOOR_IPV4_URL: `${api.url}/ip`,
    DOOR_IPV6_URL: `${api.url}/ip6`,
    GITHUB_RUN_ID: "4242",
    GITHUB_RUN_ATTEMPT: "2",
    HC_BACKOFF_MS: "200",
    HC_POLL_MS: "20",
    ...extra,
  });
  const reset = (): void => {
    api.requests.length = 0;
    api.resetActions();
    api.rateLimited.clear();
    api.actionPolls = 1;
    api.actionOutcome = "success";
    api.ipv4Answer = "203.0.113.7";
    api.firewalls = [
      { id: 41, name: "test-base", labels: { ...DOOR_LABELS, role: "base" }, rules: [], servers: [1, 2] },
      { id: 42, name: "test-ci-door", labels: { ...DOOR_LABELS }, rules: [], servers: [1, 2, 3] },
    ];
    writeFileSync(CURL_ARGV, "");
  };

  void test("shellcheck finds nothing in the CI scripts", (t) => {
    if (!requireTool(t, "shellcheck")) return;
    const res = spawnSync("shellcheck", ["--severity=style", "--external-sources", "scripts/ci/hcloud.sh", "scripts/ci/ssh-door.sh"], { cwd: ROOT, encoding: "utf8" });
    assert.equal(res.status, 0, res.stdout + res.stderr);
  });

  void test("open: finds the door by its labels, admits the runner's /32 on the SSH port with the run and its end in the description, and waits for every action", async () => {
    reset();
    const before = Math.floor(Date.now() / 1000);
    const res = await run(DOOR, ["open"], env());
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, "");
    assert.deepEqual(api.calls(), [
      "GET /v1/firewalls",
      "POST /v1/firewalls/42/actions/set_rules",
      // one set_firewall_rules and one apply_firewall per server, each seen running once, then done
      "GET /v1/actions/9000", "GET /v1/actions/9000",
      "GET /v1/actions/9001", "GET /v1/actions/9001",
      "GET /v1/actions/9002", "GET /v1/actions/9002",
      "GET /v1/actions/9003", "GET /v1/actions/9003",
    ]);
    assert.deepEqual(api.requests[0].query, { label_selector: "project=swarm-platform,stack=test,role=ci-door" });
    for (const r of api.requests) assert.equal(r.auth, `Bearer ${TOKEN}`, `${r.method} ${r.path}`);
    const rules = (api.requests[1].body as { rules: Rule[] }).rules;
    assert.equal(rules.length, 1);
    const { description, ...rule } = rules[0];
    assert.deepEqual(rule, { direction: "in", protocol: "tcp", port: "2222", source_ips: ["203.0.113.7/32"] });
    const m = /^ci-door run 4242\/2 until (\d+)$/.exec(description ?? "");
    assert.ok(m, description);
    const until = Number(m[1]);
    assert.ok(until >= before + 70 * 60 && until <= Math.floor(Date.now() / 1000) + 70 * 60, `until ${until}`);
    assert.deepEqual(api.firewalls[1].rules, rules);
    assert.deepEqual(api.firewalls[0].rules, [], "the base firewall is not touched");
    assert.match(res.stderr, /door test-ci-door open: tcp\/2222 from 203\.0\.113\.7\/32 until \d{4}-\d\d-\d\dT\d\d:\d\dZ/);
  });

  void test("open: an IPv6 address is admitted as /128 beside the IPv4 /32", async () => {
    reset();
    const res = await run(DOOR, ["open"], env({ DOOR_IPV6: "2001:db8:1234::7" }));
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(api.firewalls[1].rules[0].source_ips, ["203.0.113.7/32", "2001:db8:1234::7/128"]);
  });

  void test("open replaces what a runner that died left behind; close removes every rule", async () => {
    reset();
    api.firewalls[1].rules = [{ direction: "in", protocol: "tcp", port: "2222", source_ips: ["198.51.100.9/32"], description: "ci-door run 1/1 until 1" }];
    const opened = await run(DOOR, ["open"], env());
    assert.equal(opened.code, 0, opened.stderr);
    assert.match(opened.stderr, /replacing what the door still admitted: tcp\/2222 from 198\.51\.100\.9\/32 \(ci-door run 1\/1 until 1\)/);
    assert.deepEqual(api.firewalls[1].rules.map((r) => r.source_ips), [["203.0.113.7/32"]]);
    api.requests.length = 0;
    const closed = await run(DOOR, ["close"], env({ SSH_PORT: "", DOOR_TTL_MINUTES: "" }));
    assert.equal(closed.code, 0, closed.stderr);
    assert.deepEqual(api.requests[1].body, { rules: [] });
    assert.deepEqual(api.firewalls[1].rules, []);
    assert.match(closed.stderr, /removing: tcp\/2222 from 203\.0\.113\.7\/32 \(ci-door run 4242\/2 until \d+\)\nssh-door: door test-ci-door closed\n$/);
    // Closing a closed door is harmless: the cleanup runs on every exit path, opened or not.
    const again = await run(DOOR, ["close"], env());
    assert.equal(again.code, 0, again.stderr);
  });

  void test("a 429 is answered with a wait, then the same request again", async () => {
    reset();
    api.rateLimited.set("POST /v1/firewalls/{id}/actions/set_rules", 1);
    const res = await run(DOOR, ["open"], env());
    assert.equal(res.code, 0, res.stderr);
    const posts = api.requests.filter((r) => r.method === "POST");
    assert.equal(posts.length, 2);
    assert.deepEqual(posts[0].body, posts[1].body, "the retry sends the same rules");
    const waited = posts[1].at - posts[0].at;
    assert.ok(waited >= 100, `waited ${waited} ms, at least half of HC_BACKOFF_MS=200`);
    assert.match(res.stderr, /POST \/firewalls\/42\/actions\/set_rules: 429 rate_limit_exceeded; attempt 1 of 6, retrying in \d+ ms/);
  });

  void test("the backoff doubles and gives up after HC_MAX_ATTEMPTS with what Hetzner said", async () => {
    reset();
    api.rateLimited.set("GET /v1/firewalls", 100);
    const res = await run(DOOR, ["close"], env({ HC_MAX_ATTEMPTS: "4", HC_BACKOFF_MS: "40" }));
    assert.equal(res.code, 1);
    assert.equal(api.requests.length, 4, api.calls().join(", "));
    const gaps = api.requests.slice(1).map((r, i) => r.at - api.requests[i].at);
    // waits are jittered between half and all of 40, 80, 160 ms
    for (const [i, min] of [20, 40, 80].entries()) assert.ok(gaps[i] >= min, `gap ${i}: ${gaps.join(", ")}`);
    assert.match(res.stderr, /ssh-door: error: Hetzner API GET \/firewalls\?label_selector=project%3Dswarm-platform%2Cstack%3Dtest%2Crole%3Dci-door failed 4 times, last: 429 rate_limit_exceeded: limit of 3600 requests per hour reached\n$/);
  });

  void test("a read-only token is refused at once with the reason, not retried", async () => {
    reset();
    const res = await run(DOOR, ["open"], env({ HCLOUD_TOKEN: READ_ONLY_TOKEN }));
    assert.equal(res.code, 1);
    assert.deepEqual(api.calls(), ["GET /v1/firewalls", "POST /v1/firewalls/42/actions/set_rules"]);
    assert.match(res.stderr, /Hetzner API POST \/firewalls\/42\/actions\/set_rules: 403 token_readonly: The token is only allowed to perform GET requests \(HCLOUD_TOKEN may not do this: a read-only token can only read; use the read\/write token of this project\)/);
    assert.deepEqual(api.firewalls[1].rules, []);
  });

  void test("a wrong token is named as such", async () => {
    reset();
    const res = await run(DOOR, ["close"], env({ HCLOUD_TOKEN: "NotTheToken42" }));
    assert.equal(res.code, 1);
    assert.match(res.stderr, /401 unauthorized: unable to authenticate \(HCLOUD_TOKEN is not a valid token/);
  });

  void test("an action that fails is named with Hetzner's code and message", async () => {
    reset();
    api.actionOutcome = { code: "firewall_resource_not_found", message: "server 3 was deleted" };
    const res = await run(DOOR, ["open"], env());
    assert.equal(res.code, 1);
    assert.match(res.stderr, /ssh-door: error: Hetzner action 9000 \(set_firewall_rules\) failed: firewall_resource_not_found: server 3 was deleted\n$/);
  });

  void test("an action that never finishes ends the wait at HC_ACTION_TIMEOUT_S, naming it", async () => {
    reset();
    api.actionOutcome = "never";
    const started = Date.now();
    const res = await run(DOOR, ["open"], env({ HC_ACTION_TIMEOUT_S: "2", HC_POLL_MS: "100" }));
    assert.equal(res.code, 1);
    assert.match(res.stderr, /Hetzner action 9000 \(set_firewall_rules\) is still running after 2 s \(50% done\); raise HC_ACTION_TIMEOUT_S/);
    assert.ok(Date.now() - started < 15_000);
  });

  void test("no door, or two, is an error naming the labels and the fix; nothing is written", async () => {
    reset();
    api.firewalls = api.firewalls.slice(0, 1);
    const none = await run(DOOR, ["open"], env());
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no firewall with the labels project=swarm-platform,stack=test,role=ci-door in this Hetzner project: the stack has no SSH door yet\. Its first 'pulumi up' with the door must run from an address in sshAllowedCidrs \(see docs\/ci\.md/);
    reset();
    api.firewalls.push({ id: 43, name: "old-ci-door", labels: { ...DOOR_LABELS }, rules: [], servers: [] });
    const two = await run(DOOR, ["close"], env());
    assert.equal(two.code, 1);
    assert.match(two.stderr, /2 firewalls carry the labels project=swarm-platform,stack=test,role=ci-door \(test-ci-door, old-ci-door\): one door per stack/);
    assert.deepEqual(api.calls(), ["GET /v1/firewalls"]);
  });

  void test("the token is on no command line: curl reads the header from a file", async () => {
    reset();
    const res = await run(DOOR, ["open"], env());
    assert.equal(res.code, 0, res.stderr);
    const lines = readFileSync(CURL_ARGV, "utf8").trim().split("\n");
    assert.equal(lines.length, 2 + api.requests.length, "one curl each for the IPv4 and IPv6 address, one per API call");
    for (const line of lines) assert.ok(!line.includes(TOKEN), line);
    for (const line of lines.slice(2)) assert.match(line, / -H @\/\S+\/headers /);
  });

  void test("bad input is refused before any request, naming the variable", async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["knock"], {}, /usage: ssh-door\.sh address\|open\|close\|sweep \(got 'knock'\)/],
      [["open"], { STACK: "" }, /STACK is empty: name the Pulumi stack whose door to open/],
      [["open"], { HCLOUD_TOKEN: "" }, /HCLOUD_TOKEN is empty: set it to a read\/write API token/],
      [["open"], { HCLOUD_TOKEN: `${TOKEN}\n` }, /HCLOUD_TOKEN does not look like a Hetzner API token/],
      [["open"], { SSH_PORT: "" }, /SSH_PORT is empty: pass the stack's sshPort/],
      [["open"], { SSH_PORT: "70000" }, /SSH_PORT must be a port number 1-65535, got '70000'/],
      [["open"], { DOOR_TTL_MINUTES: "" }, /DOOR_TTL_MINUTES is empty: set it longer than the job's timeout-minutes/],
      [["open"], { DOOR_TTL_MINUTES: "1h" }, /DOOR_TTL_MINUTES must be a positive whole number, got '1h'/],
      [["close"], { HC_MAX_ATTEMPTS: "0" }, /HC_MAX_ATTEMPTS must be a positive whole number, got '0'/],
    ];
    for (const [args, extra, message] of cases) {
      reset();
      const res = await run(DOOR, args, env(extra));
      assert.equal(res.code, 1, `${args} ${JSON.stringify(extra)}`);
      assert.match(res.stderr, message);
      assert.deepEqual(api.requests, [], `${args} ${JSON.stringify(extra)}: no request`);
    }
  });

  void test("address: the runner's /32, and a lookup that answers no address is an error naming the source", async () => {
    reset();
    const ok = await run(DOOR, ["address"], env());
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, "203.0.113.7/32\n");
    api.ipv4Answer = "<html>busy</html>";
    const bad = await run(DOOR, ["address"], env());
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, new RegExp(`this runner's public IPv4 address from ${api.url}/ip is not an IPv4 address: '<html>busy</html>'`));
    const octet = await run(DOOR, ["address"], env({ DOOR_IPV4: "203.0.113.256" }));
    assert.match(octet.stderr, /from DOOR_IPV4 is not an IPv4 address: '203\.0\.113\.256'/);
    const gone = await run(DOOR, ["address"], env({ DOOR_IPV4_URL: "http://127.0.0.1:1/ip" }));
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /could not learn this runner's public IPv4 address from http:\/\/127\.0\.0\.1:1\/ip \(set DOOR_IPV4 to skip the lookup\)/);
  });

  void test("sweep removes only the rules whose time is up and keeps the rest as they were", async () => {
    reset();
    const now = Math.floor(Date.now() / 1000);
    const live = { direction: "in", protocol: "tcp", port: "2222", source_ips: ["203.0.113.7/32"], description: `ci-door run 9/1 until ${now + 600}` };
    const foreign = { direction: "in", protocol: "tcp", port: "2222", source_ips: ["192.0.2.0/24"], description: "office, set by hand" };
    api.firewalls[1].rules = [
      { direction: "in", protocol: "tcp", port: "2222", source_ips: ["198.51.100.9/32"], description: `ci-door run 8/1 until ${now - 5}` },
      live,
      foreign,
    ];
    const res = await run(DOOR, ["sweep"], env({ SSH_PORT: "", DOOR_TTL_MINUTES: "", GITHUB_ACTIONS: "true" }));
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(api.requests[1].body, { rules: [live, foreign] });
    assert.match(res.stderr, /removing 1 expired rule\(s\) left by a job that did not close the door/);
    assert.match(res.stdout, /^::warning title=SSH door left open::1 rule\(s\) on the door of test outlived their job and were removed\n$/);
    api.requests.length = 0;
    const quiet = await run(DOOR, ["sweep"], env());
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.deepEqual(api.calls(), ["GET /v1/firewalls"], "nothing expired: nothing written");
  });
});
