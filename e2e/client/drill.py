#!/usr/bin/env python3
"""The drills' client, run inside the e2e-client service (Debian's python3, pika, redis).

    drill.py <command> [json arguments]

Every command prints JSON lines on stdout: events while it runs ({"event": ...}) and one
final {"result": ...}. Long-running writers stop when a line arrives on stdin (or stdin
closes). Passwords come from the Docker secret files only. Every network call has a
timeout; every loop ends.
"""
import base64
import json
import sys
import threading
import time
import urllib.error
import urllib.request

REDIS_PASSWORD_FILE = "/run/secrets/redis-password"
RABBITMQ_PASSWORD_FILE = "/run/secrets/rabbitmq-admin-password"


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def secret(path):
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def stop_event():
    """Set when a line arrives on stdin or stdin closes."""
    ev = threading.Event()

    def watch():
        try:
            sys.stdin.readline()
        finally:
            ev.set()

    threading.Thread(target=watch, daemon=True).start()
    return ev


def ranges(numbers):
    """[1,2,3,7,8] -> [[1,3],[7,8]]: compact lists of confirmed numbers."""
    out = []
    for n in sorted(numbers):
        if out and out[-1][1] == n - 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return out


def expand(rs):
    for lo, hi in rs:
        yield from range(lo, hi + 1)


class Timeline:
    """Success/failure edges of a writer and the longest time without a success."""

    def __init__(self):
        self.last_ok = None
        self.failing_since = None
        self.max_gap = 0.0
        self.max_gap_from = None
        self.ok = 0
        self.failed = 0

    def success(self, **info):
        now = time.time()
        if self.last_ok is not None and now - self.last_ok > self.max_gap:
            self.max_gap = now - self.last_ok
            self.max_gap_from = self.last_ok
        if self.failing_since is not None:
            emit({"event": "recovered", "t": now, "failing_since": self.failing_since, **info})
            self.failing_since = None
        self.last_ok = now
        self.ok += 1

    def failure(self, error, **info):
        now = time.time()
        if self.failing_since is None:
            self.failing_since = now
            emit({"event": "failing", "t": now, "error": str(error)[:200], **info})
        self.failed += 1

    def summary(self):
        return {"ok": self.ok, "failed": self.failed, "max_gap_s": round(self.max_gap, 3),
                "max_gap_from": self.max_gap_from, "last_ok": self.last_ok}


# ---------------------------------------------------------------- Redis

def redis_client(host, port=6379):
    import redis
    # The operators' ACL user: every server's default user is off.
    return redis.Redis(host=host, port=port, username="admin", password=secret(REDIS_PASSWORD_FILE),
                       socket_connect_timeout=1, socket_timeout=2, retry_on_timeout=False)


def redis_writer(args):
    """Numbered writes through the stable endpoint, each confirmed by WAIT 1 (one replica has it)."""
    stop = stop_event()
    host, prefix = args["host"], args["prefix"]
    pause = args.get("pause_s", 0.005)
    deadline = time.time() + args.get("max_s", 600)
    confirmed, unconfirmed = [], 0
    tl = Timeline()
    client = None
    n = 0
    emit({"event": "started", "t": time.time()})
    while not stop.is_set() and time.time() < deadline:
        n += 1
        try:
            if client is None:
                client = redis_client(host)
            client.set(f"{prefix}:{n}", n)
            acked = client.execute_command("WAIT", 1, 1000)
            if int(acked) >= 1:
                confirmed.append(n)
                tl.success(n=n)
            else:
                unconfirmed += 1
                tl.failure("WAIT 1 returned 0 replicas", n=n)
        except Exception as e:  # noqa: BLE001 - every failure is a data point
            tl.failure(f"{type(e).__name__}: {e}", n=n)
            try:
                if client is not None:
                    client.close()
            except Exception:  # noqa: BLE001
                pass
            client = None
            time.sleep(0.1)
        time.sleep(pause)
    emit({"result": {"attempts": n, "confirmed": ranges(confirmed), "confirmed_count": len(confirmed),
                     "unconfirmed": unconfirmed, **tl.summary()}})


def redis_verify(args):
    """Counts confirmed writes missing through the endpoint; reports every member's role."""
    prefix, confirmed = args["prefix"], list(expand(args["confirmed"]))
    client = redis_client(args["host"])
    missing = 0
    for i in range(0, len(confirmed), 500):
        batch = confirmed[i:i + 500]
        values = client.mget([f"{prefix}:{n}" for n in batch])
        missing += sum(1 for n, v in zip(batch, values) if v is None or int(v) != n)
    emit({"result": {"checked": len(confirmed), "missing": missing}})


def redis_roles(args):
    roles = {}
    for member in args["members"]:
        try:
            info = redis_client(member).info("replication")
            roles[member] = {"role": info.get("role"), "master_host": info.get("master_host"),
                             "link": info.get("master_link_status"), "connected_slaves": info.get("connected_slaves")}
        except Exception as e:  # noqa: BLE001
            roles[member] = {"role": None, "error": str(e)[:200]}
    emit({"result": roles})


# ---------------------------------------------------------------- RabbitMQ

def rabbit_params(host, heartbeat=5):
    import pika
    creds = pika.PlainCredentials(args_user(), secret(RABBITMQ_PASSWORD_FILE))
    return pika.ConnectionParameters(host=host, credentials=creds, heartbeat=heartbeat, socket_timeout=3,
                                     blocked_connection_timeout=10, connection_attempts=1, stack_timeout=5)


_user = {"name": "admin"}


def args_user():
    return _user["name"]


def rabbit_api(host, path, user):
    req = urllib.request.Request(f"http://{host}:15672/api/{path}")
    token = base64.b64encode(f"{user}:{secret(RABBITMQ_PASSWORD_FILE)}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def rabbit_declare(args):
    """Declares the drill's quorum queue (durable, explicit x-queue-type) and reports where its leader is."""
    import pika
    _user["name"] = args["user"]
    conn = pika.BlockingConnection(rabbit_params(args["host"]))
    ch = conn.channel()
    ch.queue_delete(queue=args["queue"])
    ch.queue_declare(queue=args["queue"], durable=True, arguments={"x-queue-type": "quorum"})
    # What the virtual host's default queue type gives a durable queue declared without x-queue-type.
    probe = args["queue"] + "-default-type"
    ch.queue_delete(queue=probe)
    ch.queue_declare(queue=probe, durable=True)
    conn.close()
    info, default_type = None, None
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            info = rabbit_api(args["host"], f"queues/%2F/{args['queue']}", args["user"])
            default_type = rabbit_api(args["host"], f"queues/%2F/{probe}", args["user"]).get("type")
            if info.get("leader"):
                break
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(1)
    conn = pika.BlockingConnection(rabbit_params(args["host"]))
    conn.channel().queue_delete(queue=probe)
    conn.close()
    emit({"result": {"type": (info or {}).get("type"), "leader": (info or {}).get("leader"),
                     "members": (info or {}).get("members"), "default_queue_type_gives": default_type}})


def rabbit_publish(args):
    """Numbered persistent messages, each waiting for its publisher confirm; resent after a failure."""
    import pika
    _user["name"] = args["user"]
    stop = stop_event()
    hosts, queue = args["hosts"], args["queue"]
    deadline = time.time() + args.get("max_s", 600)
    confirmed = []
    tl = Timeline()
    conn = ch = None
    host_index = 0
    n = 1
    emit({"event": "started", "t": time.time()})
    while not stop.is_set() and time.time() < deadline:
        try:
            if ch is None:
                host = hosts[host_index % len(hosts)]
                conn = pika.BlockingConnection(rabbit_params(host))
                ch = conn.channel()
                ch.confirm_delivery()
                emit({"event": "connected", "t": time.time(), "host": host})
            ch.basic_publish(exchange="", routing_key=queue, body=str(n).encode(),
                             properties=pika.BasicProperties(delivery_mode=2), mandatory=True)
            confirmed.append(n)
            tl.success(n=n)
            n += 1
        except Exception as e:  # noqa: BLE001 - nack, unroutable, closed connection: resend n
            tl.failure(f"{type(e).__name__}: {e}", n=n)
            try:
                if conn is not None and conn.is_open:
                    conn.close()
            except Exception:  # noqa: BLE001
                pass
            conn = ch = None
            host_index += 1
            time.sleep(0.2)
        time.sleep(args.get("pause_s", 0.0))
    try:
        if conn is not None and conn.is_open:
            conn.close()
    except Exception:  # noqa: BLE001
        pass
    emit({"result": {"published": n - 1, "confirmed": ranges(confirmed), "confirmed_count": len(confirmed), **tl.summary()}})


def rabbit_consume(args):
    """Takes every message off the queue with a consumer (acknowledged); on a failure, reconnects
    to the next host and goes on. Done when the queue reports no message left."""
    import pika
    _user["name"] = args["user"]
    hosts, queue = args["hosts"], args["queue"]
    received = set()
    duplicates = 0
    errors = []
    deadline = time.time() + args.get("max_s", 180)
    attempt = 0
    done = False
    while not done and time.time() < deadline:
        host = hosts[attempt % len(hosts)]
        attempt += 1
        conn = None
        try:
            conn = pika.BlockingConnection(rabbit_params(host))
            ch = conn.channel()
            ch.basic_qos(prefetch_count=500)
            for method, _props, body in ch.consume(queue, inactivity_timeout=2):
                if method is None:
                    left = ch.queue_declare(queue=queue, passive=True).method.message_count
                    if left == 0:
                        done = True
                        break
                    continue
                number = int(body)
                if number in received:
                    duplicates += 1
                received.add(number)
                ch.basic_ack(method.delivery_tag)
                if time.time() > deadline:
                    break
            ch.cancel()
            if done:
                ch.queue_delete(queue=queue)
        except Exception as e:  # noqa: BLE001 - reconnect and go on
            errors.append(f"{host}: {type(e).__name__}: {e}"[:300])
            time.sleep(1)
        finally:
            try:
                if conn is not None and conn.is_open:
                    conn.close()
            except Exception:  # noqa: BLE001
                pass
    emit({"result": {"complete": done, "received": ranges(received), "received_count": len(received),
                     "duplicates": duplicates, "errors": errors[-5:]}})


# ---------------------------------------------------------------- etcd (its v3 JSON gateway, as APISIX speaks to it)

def b64(text):
    return base64.b64encode(text.encode()).decode()


def etcd_call(endpoint, path, body, timeout=1.0):
    req = urllib.request.Request(f"{endpoint}/v3/{path}", data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def etcd_status(args):
    members, statuses = None, {}
    for ep in args["endpoints"]:
        try:
            st = etcd_call(ep, "maintenance/status", {}, timeout=3)
            statuses[ep] = {"member_id": st["header"]["member_id"], "leader": st.get("leader")}
            if members is None:
                members = etcd_call(ep, "cluster/member/list", {}, timeout=3).get("members", [])
        except (urllib.error.URLError, OSError, ValueError, KeyError) as e:
            statuses[ep] = {"error": str(e)[:200]}
    names = {m["ID"]: m.get("name") for m in (members or [])}
    leaders = {names.get(s["leader"], s["leader"]) for s in statuses.values() if s.get("leader")}
    emit({"result": {"statuses": statuses, "leaders": sorted(leaders), "members": sorted(n for n in names.values() if n)}})


def etcd_writer(args):
    """Puts under the APISIX prefix, trying the endpoints in turn, each request bounded to 1 s."""
    stop = stop_event()
    endpoints, prefix = args["endpoints"], args["prefix"]
    deadline = time.time() + args.get("max_s", 600)
    tl = Timeline()
    written = []
    n = 0
    current = 0
    emit({"event": "started", "t": time.time()})
    while not stop.is_set() and time.time() < deadline:
        n += 1
        ok = False
        for attempt in range(len(endpoints)):
            ep = endpoints[(current + attempt) % len(endpoints)]
            try:
                etcd_call(ep, "kv/put", {"key": b64(f"{prefix}/{n}"), "value": b64(str(n))})
                current = (current + attempt) % len(endpoints)
                ok = True
                break
            except (urllib.error.URLError, OSError, ValueError) as e:
                tl.failure(f"{ep}: {type(e).__name__}: {e}", n=n)
        if ok:
            written.append(n)
            tl.success(n=n)
        else:
            time.sleep(0.1)
        time.sleep(args.get("pause_s", 0.01))
    missing = 0
    ep = endpoints[current]
    for number in written:
        try:
            got = etcd_call(ep, "kv/range", {"key": b64(f"{prefix}/{number}")}, timeout=3)
            if not got.get("kvs"):
                missing += 1
        except (urllib.error.URLError, OSError, ValueError):
            missing += 1
    try:
        etcd_call(ep, "kv/deleterange", {"key": b64(prefix + "/"), "range_end": b64(prefix + "0")}, timeout=5)
    except (urllib.error.URLError, OSError, ValueError):
        pass
    emit({"result": {"attempts": n, "written": len(written), "missing_after": missing, **tl.summary()}})


# ---------------------------------------------------------------- Prometheus

def prom_targets(args):
    with urllib.request.urlopen(f"http://{args['host']}:9090/api/v1/targets?state=active", timeout=10) as r:
        data = json.loads(r.read())
    targets = [{"job": t["labels"].get("job"), "instance": t["labels"].get("instance"), "health": t.get("health"),
                "error": t.get("lastError", "")[:200]} for t in data["data"]["activeTargets"]]
    emit({"result": targets})


COMMANDS = {
    "redis-writer": redis_writer,
    "redis-verify": redis_verify,
    "redis-roles": redis_roles,
    "rabbit-declare": rabbit_declare,
    "rabbit-publish": rabbit_publish,
    "rabbit-consume": rabbit_consume,
    "etcd-status": etcd_status,
    "etcd-writer": etcd_writer,
    "prom-targets": prom_targets,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.stderr.write(f"usage: drill.py {{{'|'.join(COMMANDS)}}} [json]\n")
        sys.exit(64)
    COMMANDS[sys.argv[1]](json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})
