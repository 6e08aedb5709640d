/** Settings of etcd, APISIX's configuration store: external endpoints or members the platform runs. */
import type { ConfigProblem } from "../../stacks/errors";
import { ValueError } from "../../stacks/errors";
import { int, list, perProfile, str, type SettingDef } from "../../stacks/schema";
import type { Values } from "../../stacks/config";
import { memberCapacity } from "../../core/placement";
import { imageSettings, imagesOf, type ImageDefault } from "../kit/images";
import { perNodeProblem } from "../kit/validate";
import type { FamilyArea, SettingsContext } from "../kit/family";

const G = "etcd (APISIX configuration store)";

export const ETCD_IMAGES = {
  etcd: { image: "quay.io/coreos/etcd:v3.5.17", why: "etcd members for APISIX when no external endpoints are configured" },
} as const satisfies Record<string, ImageDefault>;

export interface EtcdSection {
  /** External endpoints (e.g. an existing etcd cluster); empty: the platform runs its own members. */
  readonly externalEndpoints: readonly string[];
  readonly prefix: string;
  /** Members the platform runs when externalEndpoints is empty. */
  readonly members: number;
  readonly images: Readonly<Record<keyof typeof ETCD_IMAGES, string>>;
}

const etcdEndpoint = str({
  pattern: /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/,
  expected: "an etcd client URL such as http://db-01:2379",
});

export const ETCD_SETTINGS: SettingDef[] = [
  {
    key: "etcdEndpoints",
    group: G,
    type: "array",
    expected: "a list of etcd client URLs such as http://db-01:2379 (empty: the platform runs its own etcd members)",
    description: "External etcd for APISIX (e.g. an existing 3-member cluster shared under etcdPrefix). Empty: the platform runs etcdMembers members itself.",
    parse: list(etcdEndpoint, { expected: "a list of etcd client URLs such as http://db-01:2379" }),
    default: [],
  },
  {
    key: "etcdPrefix",
    group: G,
    type: "string",
    expected: "an absolute key prefix such as /apisix",
    description: "Key prefix APISIX keeps its configuration under (lets it share an etcd cluster).",
    parse: str({ pattern: /^\/[A-Za-z0-9_\/-]*[A-Za-z0-9_-]$/, expected: "an absolute key prefix such as /apisix" }),
    default: "/apisix",
  },
  {
    key: "etcdMembers",
    group: G,
    type: "integer",
    expected: "1, 3 or 5, at most the number of workload nodes labelled type=service",
    description: "etcd members the platform runs (one service each, pinned, own volume) when etcdEndpoints is empty.",
    parse: (v) => {
      const n = int(1, 5)(v);
      if (n % 2 === 0) throw new ValueError("1, 3 or 5", v);
      return n;
    },
    default: perProfile({ test: 1, prod: 3 }),
  },
  ...imageSettings(G, ETCD_IMAGES),
];

export const etcdArea: FamilyArea<EtcdSection> = {
  name: "etcd",
  settings: ETCD_SETTINGS,
  build(v: Values): EtcdSection {
    const get = <T>(key: string): T => v.get(key) as T;
    return {
      externalEndpoints: get("etcdEndpoints"),
      prefix: get("etcdPrefix"),
      members: get("etcdMembers"),
      images: imagesOf(v, ETCD_IMAGES),
    };
  },
  validate(s: EtcdSection, { topology }: SettingsContext): ConfigProblem[] {
    return s.externalEndpoints.length === 0 ? perNodeProblem("etcdMembers", s.members, memberCapacity(topology)) : [];
  },
};
