/**
 * A stand-in for exactly the Hetzner calls the edge failover makes, and for Hetzner's network:
 * - GET  /hetzner/v1/metadata/instance-id   (the metadata service; answered by the caller's address)
 * - GET  /v1/floating_ips?name=<name>       ({"floating_ips": [{"id", "name", "ip", "server"}]})
 * - POST /v1/floating_ips/{id}/actions/assign with {"server": id} (201 {"action": {...}})
 * Each assign is recorded and then routes the floating IP to the assigned server (the caller's
 * `route` callback), as Hetzner's network does. Anything else answers 404; a wrong token 401.
 */
import * as http from "node:http";

export interface StandinServer {
  readonly id: number;
  /** The address the server calls from (its "public" address on the bridge). */
  readonly address: string;
}

export interface AssignCall {
  readonly at: number;
  readonly server: number;
  readonly from: string;
}

export interface HetznerStandin {
  readonly url: string;
  readonly assigns: readonly AssignCall[];
  assignedServer(): number | null;
  close(): Promise<void>;
}

export interface StandinOptions {
  readonly listen: { host: string; port: number };
  readonly token: string;
  readonly floatingIp: { id: number; name: string; ip: string };
  readonly servers: readonly StandinServer[];
  /** Server the floating IP is routed to at start (as the program's FloatingIpAssignment leaves it). */
  readonly initialServer: number;
  /** Makes the network route the floating IP to this server. */
  readonly route: (server: StandinServer) => void;
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

function remoteAddress(req: http.IncomingMessage): string {
  return (req.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
}

export async function startHetznerStandin(options: StandinOptions): Promise<HetznerStandin> {
  const assigns: AssignCall[] = [];
  let assigned: number | null = options.initialServer;
  const byId = new Map(options.servers.map((s) => [s.id, s]));
  const first = byId.get(options.initialServer);
  if (!first) throw new Error(`stand-in: initial server ${options.initialServer} is not a known server`);
  options.route(first);
  let actionId = 1000;
  const fipPath = `/v1/floating_ips/${options.floatingIp.id}`;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const from = remoteAddress(req);
      const [url, query = ""] = (req.url ?? "").split("?");
      if (req.method === "GET" && url === "/hetzner/v1/metadata/instance-id") {
        const me = options.servers.find((s) => s.address === from);
        if (!me) return send(res, 404, { error: { code: "not_found", message: `no server at ${from}` } });
        res.writeHead(200, { "Content-Type": "text/plain" });
        res.end(String(me.id));
        return;
      }
      if (!url.startsWith("/v1/")) return send(res, 404, { error: { code: "not_found", message: url } });
      if (req.headers.authorization !== `Bearer ${options.token}`) {
        return send(res, 401, { error: { code: "unauthorized", message: "unable to authenticate" } });
      }
      if (req.method === "GET" && url === "/v1/floating_ips") {
        const name = new URLSearchParams(query).get("name");
        const fip = { id: options.floatingIp.id, name: options.floatingIp.name, ip: options.floatingIp.ip, type: "ipv4", server: assigned };
        return send(res, 200, { floating_ips: name === null || name === fip.name ? [fip] : [] });
      }
      if (req.method === "POST" && url === `${fipPath}/actions/assign`) {
        let body: { server?: unknown };
        try {
          body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { server?: unknown };
        } catch {
          return send(res, 400, { error: { code: "invalid_input", message: "invalid JSON" } });
        }
        const target = typeof body.server === "number" ? byId.get(body.server) : undefined;
        if (!target) return send(res, 422, { error: { code: "invalid_input", message: `unknown server ${String(body.server)}` } });
        assigns.push({ at: Date.now(), server: target.id, from });
        assigned = target.id;
        options.route(target);
        actionId += 1;
        return send(res, 201, {
          action: { id: actionId, command: "assign_floating_ip", status: "running", progress: 0, resources: [{ id: target.id, type: "server" }, { id: options.floatingIp.id, type: "floating_ip" }] },
        });
      }
      return send(res, 404, { error: { code: "not_found", message: `${req.method} ${url}` } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.listen.port, options.listen.host, () => resolve());
  });
  return {
    url: `http://${options.listen.host}:${(server.address() as import("node:net").AddressInfo).port}`,
    assigns,
    assignedServer: () => assigned,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
