/** Settings of the APISIX gateway and its dashboard, and their images. */
import type { ConfigProblem } from "../../stacks/errors";
import { int, oneOf, perProfile, str, type SettingDef } from "../../stacks/schema";
import type { Values } from "../../stacks/config";
import { serviceNodes } from "../../core/placement";
import { imageSettings, imagesOf, type ImageDefault } from "../kit/images";
import type { FamilyArea, SettingsContext } from "../kit/family";

const G = "API gateway (APISIX)";

export const APISIX_IMAGES = {
  apisix: { image: "apache/apisix:3.11.0-debian", why: "APISIX gateway" },
  apisixDashboard: { image: "apache/apisix-dashboard:3.0.1-alpine", why: "APISIX dashboard" },
} as const satisfies Record<string, ImageDefault>;

export interface ApisixSection {
  readonly replicas: number;
  readonly rateLimitPolicy: "local" | "redis";
  /** host:port of the application API the routes forward to. */
  readonly apiUpstream: string;
  readonly images: Readonly<Record<keyof typeof APISIX_IMAGES, string>>;
}

const hostPort = str({
  pattern: /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?:\d{1,5}$/,
  expected: "host:port of a service on the platform network, e.g. api:8080",
});

export const APISIX_SETTINGS: SettingDef[] = [
  {
    key: "apisixReplicas",
    group: G,
    type: "integer",
    expected: "an integer from 1 to 9, at most the number of type=service nodes (at most one per node)",
    description: "APISIX gateway replicas, at most one per type=service node. The dashboard runs the same number.",
    parse: int(1, 9),
    default: perProfile({ test: 1, prod: 3 }),
  },
  {
    key: "apisixRateLimitPolicy",
    group: G,
    type: "string",
    expected: 'one of "local", "redis"',
    description: "Where limit-count keeps its counters: local (per APISIX instance; with N replicas the effective limit is N times higher) or redis (shared, through the stable Redis master endpoint, with allow_degradation).",
    parse: oneOf(["local", "redis"] as const),
    default: perProfile({ test: "local", prod: "redis" }),
  },
  {
    key: "apisixApiUpstream",
    group: G,
    type: "string",
    expected: "host:port of a service on the platform network, e.g. api:8080",
    description: "The application API the gateway routes (/v1/...) forward to; the application stack attaches to the platform network under this name.",
    parse: hostPort,
    default: "api:8080",
  },
  ...imageSettings(G, APISIX_IMAGES),
];

export const apisixArea: FamilyArea<ApisixSection> = {
  name: "apisix",
  settings: APISIX_SETTINGS,
  build(v: Values): ApisixSection {
    const get = <T>(key: string): T => v.get(key) as T;
    return {
      replicas: get("apisixReplicas"),
      rateLimitPolicy: get("apisixRateLimitPolicy"),
      apiUpstream: get("apisixApiUpstream"),
      images: imagesOf(v, APISIX_IMAGES),
    };
  },
  validate(s: ApisixSection, { topology }: SettingsContext): ConfigProblem[] {
    const nodes = serviceNodes(topology);
    return s.replicas > nodes.length
      ? [{ key: "apisixReplicas", expected: `at most ${nodes.length} (at most one per active type=service node: ${nodes.map((n) => n.name).join(", ") || "none"})`, given: s.replicas }]
      : [];
  },
};
