/** Settings of Prometheus, Alertmanager, Grafana and the exporters on every node, and their images. */
import { ValueError, type ConfigProblem } from "../../stacks/errors";
import { perProfile, str, type SettingDef } from "../../stacks/schema";
import type { Values } from "../../stacks/config";
import type { Topology } from "../../core/topology";
import { serviceNodes } from "../../core/placement";
import { imageSettings, imagesOf, type ImageDefault } from "../kit/images";
import type { FamilyArea, SettingsContext } from "../kit/family";

const G = "Monitoring";

export const MONITORING_IMAGES = {
  prometheus: { image: "prom/prometheus:v2.55.1@sha256:2659f4c2ebb718e7695cb9b25ffa7d6be64db013daba13e05c875451cf51b0d3", why: "Prometheus (2.x: its configuration is checked with Debian's promtool)" },
  alertmanager: { image: "prom/alertmanager:v0.27.0@sha256:e13b6ed5cb929eeaee733479dce55e10eb3bc2e9c4586c705a4e8da41e5eacf5", why: "Alertmanager" },
  grafana: { image: "grafana/grafana:11.4.0@sha256:d8ea37798ccc41061a62ab080f2676dda6bf7815558499f901bdb0f533a456fb", why: "Grafana" },
  nodeExporter: { image: "prom/node-exporter:v1.8.2@sha256:4032c6d5bfd752342c3e631c2f1de93ba6b86c41db6b167b9a35372c139e7706", why: "node exporter on every node" },
  cadvisor: { image: "gcr.io/cadvisor/cadvisor:v0.49.1@sha256:3cde6faf0791ebf7b41d6f8ae7145466fed712ea6f252c935294d2608b1af388", why: "cAdvisor on every node" },
} as const satisfies Record<string, ImageDefault>;

export interface MonitoringSection {
  /** Resolved: never empty. */
  readonly node: string;
  readonly prometheusRetention: string;
  readonly prometheusRetentionSize: string;
  /** Absolute host path (StorageBox mount) or empty for a local volume on the monitoring node. */
  readonly grafanaDataDir: string;
  /** Secret; empty = alerts are kept in Alertmanager only. */
  readonly alertWebhookUrl: string;
  readonly images: Readonly<Record<keyof typeof MONITORING_IMAGES, string>>;
}

/** Prometheus durations: 15d, 12h, 4w. */
const promDuration = str({ pattern: /^[1-9]\d*(h|d|w|y)$/, expected: "a Prometheus duration such as 15d, 12h or 4w" });
const promSize = str({ pattern: /^[1-9]\d*(MB|GB|TB)$/, expected: "a size such as 500MB, 20GB or 1TB" });

export const MONITORING_SETTINGS: SettingDef[] = [
  {
    key: "monitoringNode",
    group: G,
    type: "string",
    expected: "the name of a type=service node of this stack, or empty for the last type=service worker",
    description: "Node that runs Prometheus (TSDB on a local volume there), Alertmanager and, without grafanaDataDir, Grafana.",
    parse: str({ pattern: /^[a-z][a-z0-9-]*$/, allowEmpty: true, expected: "a node name such as prod-app-03, or empty" }),
    default: "",
  },
  {
    key: "prometheusRetention",
    group: G,
    type: "string",
    expected: "a Prometheus duration such as 15d, 12h or 4w",
    description: "How long Prometheus keeps samples (--storage.tsdb.retention.time).",
    parse: promDuration,
    default: perProfile({ test: "7d", prod: "30d" }),
  },
  {
    key: "prometheusRetentionSize",
    group: G,
    type: "string",
    expected: "a size such as 500MB, 20GB or 1TB",
    description: "Upper bound of the TSDB on the monitoring node's disk (--storage.tsdb.retention.size); the oldest blocks go first.",
    parse: promSize,
    default: perProfile({ test: "5GB", prod: "40GB" }),
  },
  {
    key: "grafanaDataDir",
    group: G,
    type: "string",
    expected: "an absolute host path present on every type=service node (a StorageBox mount), or empty for a local volume",
    description: "Grafana's /var/lib/grafana: a shared StorageBox path lets the single Grafana move between nodes; empty keeps it on a volume on the monitoring node.",
    parse: str({ pattern: /^\/[A-Za-z0-9._\/-]+$/, allowEmpty: true, expected: "an absolute path such as /mnt/storagebox/grafana/data, or empty" }),
    default: perProfile({ test: "", prod: "/mnt/storagebox/grafana/data" }),
  },
  {
    key: "alertWebhookUrl",
    group: G,
    type: "string",
    secret: true,
    expected: "an http(s) URL (it usually carries a token, hence secret), or empty",
    description: "Alertmanager's webhook receiver (secret; read from a Docker secret file with url_file). Empty: alerts are visible in Alertmanager only and the plan warns.",
    parse: (v) => {
      const expected = "an http(s) URL, or empty";
      if (typeof v !== "string") throw new ValueError(expected, "[secret]");
      if (v !== "" && !/^https?:\/\/[^\s]+$/.test(v)) throw new ValueError(expected, "[secret]");
      return v;
    },
    default: "",
  },
  ...imageSettings(G, MONITORING_IMAGES),
];

/** Default monitoring node: the last type=service worker (away from the edge, which is the first). */
export function defaultMonitoringNode(topology: Pick<Topology, "workloadNodes">): string | undefined {
  const nodes = serviceNodes(topology);
  const workers = nodes.filter((n) => n.role === "worker");
  return (workers.at(-1) ?? nodes.at(-1))?.name;
}

export const monitoringArea: FamilyArea<MonitoringSection> = {
  name: "monitoring",
  settings: MONITORING_SETTINGS,
  build(v: Values, { topology }: SettingsContext): MonitoringSection {
    const get = <T>(key: string): T => v.get(key) as T;
    return {
      node: get<string>("monitoringNode") || (defaultMonitoringNode(topology) ?? ""),
      prometheusRetention: get("prometheusRetention"),
      prometheusRetentionSize: get("prometheusRetentionSize"),
      grafanaDataDir: get("grafanaDataDir"),
      alertWebhookUrl: get("alertWebhookUrl"),
      images: imagesOf(v, MONITORING_IMAGES),
    };
  },
  validate(s: MonitoringSection, { topology }: SettingsContext): ConfigProblem[] {
    const names = serviceNodes(topology).map((n) => n.name);
    return s.node === "" || !names.includes(s.node)
      ? [{ key: "monitoringNode", expected: `an active type=service node of this stack (${names.join(", ") || "none"})`, given: s.node }]
      : [];
  },
};
