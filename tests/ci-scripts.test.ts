/**
 * The CI scripts (scripts/ci/) against a stand-in for exactly the Hetzner Cloud
 * API calls they make: a Node HTTP server on loopback that checks the
 * Authorization header of every call and the body of every write, answers like
 * Hetzner (error bodies, actions that run, then succeed or fail) and can refuse
 * with 429 to exercise the backoff. It is a stand-in: it proves what the scripts
 * send and how they react, not that Hetzner accepts it (scripts/ci/hcloud.sh
 * names the hcloud-go source each request shape comes from).
 *
 * The drills run with stand-ins for pulumi, ssh and docker on PATH; the Redis
 * drill's client script runs for real against a redis-server and a
 * redis-sentinel on loopback.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { requireTool } from "./support/tools";

const ROOT = join(__dirname, "..");
const DOOR = join(ROOT, "scripts", "ci", "ssh-door.sh");
const DRILLS = join(ROOT, "scripts", "ci", "acceptance.sh");
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
    const res = spawnSync("shellcheck", ["--severity=style", "--external-sources", "scripts/ci/hcloud.sh", "scripts/ci/ssh-door.sh", "scripts/ci/acceptance.sh"], { cwd: ROOT, encoding: "utf8" });
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

/* ------------------------------------------------------------------ drills */

/**
 * Stand-ins for the CLIs the drills call. pulumi answers outputs and settings
 * from a JSON file; ssh records how it was called and runs the remote command
 * here; docker answers node and service queries from files the test changes,
 * and runs `docker run ... sh -c SCRIPT ARGS` as `sh -c SCRIPT ARGS`.
 */
function drillTools(dir: string): { bin: string; state: string; sshLog: string; dockerLog: string } {
  const bin = join(dir, "bin");
  const state = join(dir, "state");
  mkdirSync(bin, { recursive: true });
  mkdirSync(state, { recursive: true });
  const sshLog = join(dir, "ssh.log");
  const dockerLog = join(dir, "docker.log");
  writeFileSync(join(bin, "pulumi"), `#!/bin/bash
set -euo pipefail
state=${JSON.stringify(join(state, "pulumi.json"))}
[ "$1 $2" = "stack output" ] || [ "$1 $2" = "config get" ] || { echo "stand-in pulumi: unexpected $*" >&2; exit 2; }
kind=$1; shift 2
[ "$1" = --stack ] && [ "$2" = "$STACK" ] || { echo "stand-in pulumi: --stack $STACK must come first, got $*" >&2; exit 2; }
shift 2
secrets=no
if [ "$kind" = stack ]; then
  [ "$1" = --json ] || { echo "stand-in pulumi: --json expected, got $*" >&2; exit 2; }
  shift
  if [ "$1" = --show-secrets ]; then secrets=yes; shift; fi
  jq -e --arg k "$1" '.outputs | has($k)' "$state" >/dev/null || { echo "error: current stack does not have output property '$1'" >&2; exit 255; }
  if jq -e --arg k "$1" '.secretOutputs | index($k)' "$state" >/dev/null && [ $secrets = no ]; then echo '"[secret]"'; exit 0; fi
  jq --arg k "$1" '.outputs[$k]' "$state"
else
  jq -er --arg k "$1" '.config[$k]' "$state" || { echo "error: configuration key '$1' not found" >&2; exit 255; }
fi
`);
  // Each state is a queue (a folder of numbered files): every look takes the first
  // value and moves on, the last value stays. So a test scripts what the drill sees
  // look after look, independent of how fast this machine is.
  const next = `next() { local d=${JSON.stringify(state)}/$1 first; first=$(ls "$d" | sort -n | head -n 1); cat "$d/$first"; if [ "$(ls "$d" | wc -l)" -gt 1 ]; then rm "$d/$first"; fi; }`;
  writeFileSync(join(bin, "ssh"), `#!/bin/bash
set -euo pipefail
${next}
opts=()
while [ $# -gt 0 ]; do
  case $1 in
    -o|-p|-l) opts+=("$1 $2"); shift 2 ;;
    --) shift; break ;;
    -*) echo "stand-in ssh: unexpected option $1" >&2; exit 255 ;;
    *) host=$1; shift ;;
  esac
done
printf '%s|%s|%s\\n' "$host" "$(IFS=,; echo "\${opts[*]}")" "$*" >>${JSON.stringify(sshLog)}
if [ "$(next reach-"$host")" != up ]; then echo "ssh: connect to host $host port 2222: Connection refused" >&2; exit 255; fi
export NODE_HOST=$host PATH=${JSON.stringify(bin)}:$PATH
if [ "$*" = "cat /proc/sys/kernel/random/boot_id " ]; then cat ${JSON.stringify(state)}/boot-"$host"; exit 0; fi
exec bash -c "$*"
`);
  writeFileSync(join(bin, "docker"), `#!/bin/bash
set -euo pipefail
${next}
printf '%s %s\\n' "$NODE_HOST" "$*" >>${JSON.stringify(dockerLog)}
case "$1 \${2:-}" in
  "node inspect") [ "$3 $4" = "--format {{.Status.State}}" ] || exit 2; next node-"$5" ;;
  "service ls") [ "$3 $4" = "--format {{.Name}} {{.Replicas}}" ] || exit 2; next services ;;
  "run --rm")
    [ "$3 $4" = "-i --network" ] || { echo "stand-in docker: run -i --network expected" >&2; exit 2; }
    shift 6
    [ "$1 $2" = "sh -c" ] || { echo "stand-in docker: sh -c expected after the image" >&2; exit 2; }
    shift 2
    exec sh -c "$@" ;;
  *) echo "stand-in docker: unexpected $*" >&2; exit 2 ;;
esac
`);
  for (const tool of ["pulumi", "ssh", "docker"]) chmodSync(join(bin, tool), 0o755);
  return { bin, state, sshLog, dockerLog };
}

const NODES = [
  { name: "a1b2-mgr-01", role: "manager" },
  { name: "a1b2-app-01", role: "worker" },
  { name: "a1b2-app-02", role: "worker" },
];
const CONVERGED = "a1b2_redis-1 1/1\nnode-exporter 3/3";
const IPS: Record<string, string> = { "a1b2-mgr-01": "192.0.2.10", "a1b2-app-01": "192.0.2.30", "a1b2-app-02": "192.0.2.31" };

/** Replaces a state's queue with these values, in order. */
function queue(state: string, key: string, ...values: string[]): void {
  rmSync(join(state, key), { recursive: true, force: true });
  mkdirSync(join(state, key));
  values.forEach((v, i) => writeFileSync(join(state, key, String(i + 1)), `${v}\n`));
}

function pulumiState(extra: { outputs?: Record<string, unknown>; secretOutputs?: string[] } = {}): string {
  return JSON.stringify({
    outputs: { nodes: NODES, nodePublicIps: IPS, ...extra.outputs },
    secretOutputs: extra.secretOutputs ?? [],
    config: { sshPort: "2222", sshUser: "deploy", namePrefix: "a1b2", imageRedis: "redis:7.4.2" },
  });
}

void describe("acceptance.sh drills with stand-ins for Hetzner, pulumi, ssh and docker", () => {
  const api = new HetznerStandIn();
  before(() => api.start());
  after(() => api.stop());
  let n = 0;

  function setup(pulumi = pulumiState()): { dir: string; tools: ReturnType<typeof drillTools>; env: Record<string, string>; path: string } {
    const dir = join(tmp, `drill-${n++}`);
    const tools = drillTools(dir);
    writeFileSync(join(tools.state, "pulumi.json"), pulumi);
    for (const ip of Object.values(IPS)) {
      queue(tools.state, `reach-${ip}`, "up");
      writeFileSync(join(tools.state, `boot-${ip}`), `boot-of-${ip}\n`);
    }
    for (const node of NODES) queue(tools.state, `node-${node.name}`, "ready");
    queue(tools.state, "services", CONVERGED);
    api.requests.length = 0;
    api.actionPolls = 1;
    api.actionOutcome = "success";
    api.servers = NODES.map((x, i) => ({ id: 100 + i, name: x.name, labels: { stack: "acc-7-1" } }));
    api.labelled = {};
    const env = { HCLOUD_TOKEN: TOKEN, HCLOUD_ENDPOINT: `${api.url}/v1`, STACK: "acc-7-1", HC_POLL_MS: "20", DRILL_POLL_S: "1", GITHUB_RUN_ID: "7" };
    return { dir, tools, env, path: `${tools.bin}:/usr/local/bin:/usr/bin:/bin` };
  }

  void test("reboot drill: reboots the last worker through the API, waits for a new boot id, Ready, and every service back, in that order", async () => {
    const { tools, env, path } = setup();
    const victimIp = IPS["a1b2-app-02"];
    api.onReboot = (server) => {
      assert.equal(server.name, "a1b2-app-02");
      // The node is gone for one look, then up with a new boot id; the Swarm sees it
      // down once, then Ready; one service is short of a task once, then whole again.
      queue(tools.state, `reach-${victimIp}`, "down", "up");
      writeFileSync(join(tools.state, `boot-${victimIp}`), "a-new-boot\n");
      queue(tools.state, "node-a1b2-app-02", "down", "ready");
      queue(tools.state, "services", "a1b2_redis-1 0/1\nnode-exporter 2/3", CONVERGED);
    };
    const summary = join(tools.state, "summary.md");
    const res = await run(DRILLS, ["reboot-drill"], { ...env, GITHUB_STEP_SUMMARY: summary }, "", path);
    api.onReboot = undefined;
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(api.calls().filter((c) => !c.startsWith("GET /v1/actions/")), ["GET /v1/servers", "POST /v1/servers/102/actions/reboot"]);
    assert.deepEqual(api.requests[0].query, { name: "a1b2-app-02" });
    assert.equal(api.requests[1].body, undefined, "a reboot has no body");
    for (const r of api.requests) assert.equal(r.auth, `Bearer ${TOKEN}`);
    const m = /^reboot drill: a1b2-app-02 booted again after (\d+) s, Ready in the Swarm (\d+) s later, every service converged (\d+) s after that\n$/.exec(res.stdout);
    assert.ok(m, res.stdout);
    assert.ok(m.slice(1).every((x) => Number(x) >= 1), `each phase was waited for: ${m.slice(1).join(", ")}`);
    for (const key of [`reach-${victimIp}`, "node-a1b2-app-02", "services"]) assert.deepEqual(readdirSync(join(tools.state, key)), ["2"], `${key}: every scripted look was taken`);
    assert.equal(readFileSync(summary, "utf8"), `- ${res.stdout}`);
    assert.match(res.stderr, /trusting the first host key each node shows in this run/);
    const ssh = readFileSync(tools.sshLog, "utf8").trim().split("\n");
    const opts = ssh[0].split("|")[1];
    for (const o of ["-o BatchMode=yes", "-o ConnectTimeout=15", "-p 2222", "-l deploy", "-o StrictHostKeyChecking=accept-new"]) assert.ok(opts.includes(o), opts);
    // The node queries go to the first manager, the boot id to the node itself.
    assert.ok(ssh.every((l) => l.startsWith(`${IPS["a1b2-mgr-01"]}|`) || l.startsWith(`${victimIp}|`)));
    const docker = readFileSync(tools.dockerLog, "utf8");
    assert.match(docker, /192\.0\.2\.10 node inspect --format \{\{\.Status\.State\}\} a1b2-app-02/);
  });

  void test("reboot drill: a node that never comes back Ready fails after DRILL_TIMEOUT_S, naming it and the wait", async () => {
    const { tools, env, path } = setup();
    api.onReboot = () => {
      writeFileSync(join(tools.state, `boot-${IPS["a1b2-app-02"]}`), "another-boot\n");
      queue(tools.state, "node-a1b2-app-02", "down");
    };
    const started = Date.now();
    const res = await run(DRILLS, ["reboot-drill"], { ...env, DRILL_TIMEOUT_S: "3" }, "", path);
    api.onReboot = undefined;
    assert.equal(res.code, 1);
    assert.match(res.stderr, /acceptance: error: a1b2-app-02 Ready in the Swarm \(docker node inspect on a1b2-mgr-01\): not after 3 s \(raise DRILL_TIMEOUT_S/);
    assert.ok(Date.now() - started < 20_000);
  });

  void test("reboot drill: a Swarm that has not converged before the drill is not rebooted", async () => {
    const { tools, env, path } = setup();
    queue(tools.state, "services", "a1b2_redis-1 0/1");
    const res = await run(DRILLS, ["reboot-drill"], env, "", path);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /the Swarm has not converged before the drill: a1b2_redis-1 0\/1/);
    assert.ok(!api.calls().some((c) => c.startsWith("POST")), "no reboot");
  });

  void test("reboot drill: pinned host keys are used when the stack publishes them", async () => {
    const { tools, env, path } = setup(pulumiState({ outputs: { sshKnownHosts: "[192.0.2.10]:2222 ssh-ed25519 AAAA\n" } }));
    queue(tools.state, "services", "x 0/1");
    await run(DRILLS, ["reboot-drill"], env, "", path);
    const ssh = readFileSync(tools.sshLog, "utf8");
    assert.match(ssh, /-o StrictHostKeyChecking=yes/);
    assert.doesNotMatch(ssh, /accept-new/);
  });

  void test("leftovers: every resource still labelled with the stack is named, and the job fails", async () => {
    const { env, path } = setup();
    api.servers = [{ id: 5, name: "a1b2-mgr-01", labels: { stack: "acc-7-1" } }, { id: 6, name: "other", labels: { stack: "prod" } }];
    api.labelled = {
      networks: [{ id: 7, name: "a1b2-net", labels: { stack: "acc-7-1" } }],
      ssh_keys: [{ id: 8, name: "a1b2-deploy", labels: { stack: "acc-7-1" } }],
    };
    const res = await run(DRILLS, ["leftovers"], env, "", path);
    assert.equal(res.code, 1);
    assert.deepEqual(api.calls(), ["servers", "firewalls", "networks", "placement_groups", "floating_ips", "primary_ips", "volumes", "load_balancers", "ssh_keys"].map((k) => `GET /v1/${k}`));
    for (const r of api.requests) assert.deepEqual(r.query, { label_selector: "stack=acc-7-1", per_page: "50" });
    assert.match(res.stderr, /^server a1b2-mgr-01 \(id 5\)\nnetwork a1b2-net \(id 7\)\nssh_key a1b2-deploy \(id 8\)\nacceptance: error: 3 Hetzner resource\(s\) labelled stack=acc-7-1 outlived 'pulumi destroy'/);
    api.servers = [];
    api.labelled = {};
    const clean = await run(DRILLS, ["leftovers"], env, "", path);
    assert.equal(clean.code, 0, clean.stderr);
    assert.equal(clean.stdout, "leftovers: no Hetzner resource is labelled stack=acc-7-1\n");
  });

  void describe("redis drill against a real redis-server and redis-sentinel on loopback", () => {
    const PASSWORD = "drill pass'word with $pecial chars";
    const procs: { kill(): void }[] = [];
    let master = 0;
    let replica = 0;
    let sentinel = 0;
    let ready = false;

    const freePort = (): Promise<number> => new Promise((ok) => {
      const s = createNetServer().listen(0, "127.0.0.1", () => {
        const port = (s.address() as AddressInfo).port;
        s.close(() => ok(port));
      });
    });
    const cli = (port: number, ...args: string[]): string =>
      spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "--raw", ...args], { encoding: "utf8", env: { ...process.env, REDISCLI_AUTH: PASSWORD } }).stdout.trim();

    before(async () => {
      if (!["redis-server", "redis-sentinel", "redis-cli"].every((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status === 0)) return;
      const dir = join(tmp, "redis");
      mkdirSync(dir);
      [master, replica, sentinel] = [await freePort(), await freePort(), await freePort()];
      const quoted = `"${PASSWORD.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
      writeFileSync(join(dir, "master.conf"), `port ${master}\nbind 127.0.0.1\nrequirepass ${quoted}\nmasterauth ${quoted}\nsave ""\nappendonly no\ndir ${dir}\n`);
      writeFileSync(join(dir, "replica.conf"), `port ${replica}\nbind 127.0.0.1\nrequirepass ${quoted}\nmasterauth ${quoted}\nreplicaof 127.0.0.1 ${master}\nsave ""\nappendonly no\ndir ${dir}\n`);
      writeFileSync(join(dir, "sentinel.conf"), `port ${sentinel}\nbind 127.0.0.1\nrequirepass ${quoted}\nsentinel monitor platform 127.0.0.1 ${master} 1\nsentinel auth-pass platform ${quoted}\ndir ${dir}\n`);
      for (const [bin, conf] of [["redis-server", "master.conf"], ["redis-server", "replica.conf"], ["redis-sentinel", "sentinel.conf"]]) {
        const child = spawn(bin, [join(dir, conf)], { stdio: "ignore", detached: true });
        procs.push({ kill: () => { try { process.kill(-child.pid!, "SIGKILL"); } catch { /* gone */ } } });
      }
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        if (cli(master, "PING") === "PONG" && cli(sentinel, "PING") === "PONG" && cli(replica, "ROLE").startsWith("slave") && cli(replica, "INFO", "replication").includes("master_link_status:up")) {
          ready = true;
          break;
        }
        await new Promise((ok) => setTimeout(ok, 200));
      }
      assert.ok(ready, "redis master, replica and sentinel up within 20 s");
    });
    after(() => procs.forEach((p) => p.kill()));

    const redisOutputs = (endpoint: number): string => pulumiState({
      outputs: {
        redis: { endpoint: `127.0.0.1:${endpoint}`, sentinels: [`127.0.0.1:${sentinel}`], masterName: "platform", members: [] },
        redisPassword: PASSWORD,
      },
      secretOutputs: ["redisPassword"],
    });

    void test("asks Sentinel for the master, writes and reads through the endpoint, finds the key on the master; the password only on stdin", async (t) => {
      for (const tool of ["redis-server", "redis-sentinel", "redis-cli"]) if (!requireTool(t, tool)) return;
      const { tools, env, path } = setup(redisOutputs(master));
      const res = await run(DRILLS, ["redis-drill"], env, "", path);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, new RegExp(`^redis drill: Sentinel 127\\.0\\.0\\.1:${sentinel} names master 127\\.0\\.0\\.1:${master}; acceptance:7:\\d+ written and read through 127\\.0\\.0\\.1:${master} and found on the master\\n$`));
      const key = /acceptance:7:\d+/.exec(res.stdout)![0];
      assert.equal(cli(master, "GET", key), "written-by-acc-7-1");
      assert.ok(Number(cli(master, "TTL", key)) > 500, "the drill's key expires");
      const docker = readFileSync(tools.dockerLog, "utf8");
      assert.match(docker, /^192\.0\.2\.10 run --rm -i --network a1b2_platform redis:7\.4\.2 sh -c /);
      assert.ok(!docker.includes(PASSWORD) && !readFileSync(tools.sshLog, "utf8").includes(PASSWORD), "the password is on no command line");
    });

    void test("an endpoint that is not the master fails the drill with what it answered", async (t) => {
      for (const tool of ["redis-server", "redis-sentinel", "redis-cli"]) if (!requireTool(t, tool)) return;
      const { env, path } = setup(redisOutputs(replica));
      const res = await run(DRILLS, ["redis-drill"], env, "", path);
      assert.equal(res.code, 1);
      assert.match(res.stderr, new RegExp(`SET through 127\\.0\\.0\\.1:${replica} answered: READONLY You can't write against a read only replica\\.`));
      assert.match(res.stderr, /acceptance: error: the Redis drill failed on a1b2-mgr-01/);
    });

    void test("a wrong password is refused by Sentinel and fails the drill", async (t) => {
      for (const tool of ["redis-server", "redis-sentinel", "redis-cli"]) if (!requireTool(t, tool)) return;
      const state = JSON.parse(redisOutputs(master)) as { outputs: Record<string, unknown> };
      state.outputs.redisPassword = "not-the-password";
      const { env, path } = setup(JSON.stringify({ ...state, secretOutputs: ["redisPassword"] }));
      const res = await run(DRILLS, ["redis-drill"], env, "", path);
      assert.equal(res.code, 1);
      assert.match(res.stderr, new RegExp(`sentinel 127\\.0\\.0\\.1:${sentinel} (does not answer|names no master platform): .*(WRONGPASS|NOAUTH|invalid username-password)`, "s"));
    });
  });

  void test("bad input is refused naming the variable", async () => {
    const { env, path } = setup();
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["drill"], {}, /usage: acceptance\.sh reboot-drill\|redis-drill\|leftovers \(got 'drill'\)/],
      [["leftovers"], { STACK: "" }, /STACK is empty: name the throwaway stack/],
      [["reboot-drill"], { DRILL_TIMEOUT_S: "10m" }, /DRILL_TIMEOUT_S must be a positive whole number, got '10m'/],
      [["leftovers"], { HCLOUD_TOKEN: "" }, /HCLOUD_TOKEN is empty/],
    ];
    for (const [args, extra, message] of cases) {
      const res = await run(DRILLS, args, { ...env, ...extra }, "", path);
      assert.equal(res.code, 1, args.join(" "));
      assert.match(res.stderr, message);
    }
    assert.deepEqual(api.requests, []);
    assert.ok(existsSync(DRILLS));
  });
});
