/** Settings of the RabbitMQ cluster and its image. */
import type { ConfigProblem } from "../../stacks/errors";
import { int, list, perProfile, size, str, type SettingDef } from "../../stacks/schema";
import type { Values } from "../../stacks/config";
import { memberCapacity } from "../../core/placement";
import { sizeToBytes } from "../../lib/size";
import { imageSettings, imagesOf, type ImageDefault } from "../kit/images";
import { perNodeProblem } from "../kit/validate";
import type { FamilyArea, SettingsContext } from "../kit/family";

const G = "RabbitMQ";

export const RABBITMQ_IMAGES = {
  rabbitmq: { image: "rabbitmq:4.0.5-management", why: "RabbitMQ nodes with the management plugin; quorum queues by the virtual host's default queue type" },
} as const satisfies Record<string, ImageDefault>;

export interface RabbitmqSection {
  readonly nodes: number;
  readonly memoryLimit: string;
  readonly adminUser: string;
  /** One user and one virtual host (of the same name) per application. */
  readonly apps: readonly string[];
  readonly images: Readonly<Record<keyof typeof RABBITMQ_IMAGES, string>>;
}

const APP_EXPECTED = 'a list of application names such as ["orders", "billing"] (lower-case letters, digits and -, at most 32 each)';

export const RABBITMQ_SETTINGS: SettingDef[] = [
  {
    key: "rabbitmqNodes",
    group: G,
    type: "integer",
    expected: "an odd integer from 1 to 7, at most the number of workload nodes labelled type=service",
    description: "RabbitMQ cluster nodes (one service each, pinned, node name rabbit@rabbitmq-N). The cluster forms by itself from the static node list.",
    parse: int(1, 7),
    default: perProfile({ test: 1, prod: 3 }),
  },
  {
    key: "rabbitmqMemoryLimit",
    group: G,
    type: "string",
    expected: "a size of at least 256m, such as 512m or 2g",
    description: "Container memory limit of each RabbitMQ node; the memory high watermark is 60% of it.",
    parse: size,
    default: perProfile({ test: "512m", prod: "2g" }),
  },
  {
    key: "rabbitmqAdminUser",
    group: G,
    type: "string",
    expected: "1-32 letters, digits, dashes or underscores",
    description: "Administrator created at definition import; its password is generated and kept as a Pulumi secret (stack output rabbitmqAdminPassword).",
    parse: str({ pattern: /^[A-Za-z0-9_-]{1,32}$/, expected: "1-32 letters, digits, dashes or underscores" }),
    default: "admin",
  },
  {
    key: "rabbitmqApps",
    group: G,
    type: "array",
    expected: APP_EXPECTED,
    description: "Applications of the cluster: each gets its own user and its own virtual host of the same name (quorum by default), with rights on that virtual host only and no management tags. Their credentials are the secret stack output rabbitmqApps; the administrator stays with the operators.",
    parse: list(str({ pattern: /^[a-z][a-z0-9-]{0,31}$/, expected: "an application name: a lower-case letter, then lower-case letters, digits or -, at most 32" }), { expected: APP_EXPECTED }),
    default: [],
  },
  ...imageSettings(G, RABBITMQ_IMAGES),
];

export const rabbitmqArea: FamilyArea<RabbitmqSection> = {
  name: "rabbitmq",
  settings: RABBITMQ_SETTINGS,
  build(v: Values): RabbitmqSection {
    const get = <T>(key: string): T => v.get(key) as T;
    return {
      nodes: get("rabbitmqNodes"),
      memoryLimit: get("rabbitmqMemoryLimit"),
      adminUser: get("rabbitmqAdminUser"),
      apps: get("rabbitmqApps"),
      images: imagesOf(v, RABBITMQ_IMAGES),
    };
  },
  validate(s: RabbitmqSection, { topology }: SettingsContext): ConfigProblem[] {
    const problems: ConfigProblem[] = [...perNodeProblem("rabbitmqNodes", s.nodes, memberCapacity(topology))];
    if (s.nodes % 2 === 0) {
      problems.push({ key: "rabbitmqNodes", expected: "an odd number (quorum queues need a majority of nodes)", given: s.nodes });
    }
    if (sizeToBytes(s.memoryLimit) < sizeToBytes("256m")) {
      problems.push({ key: "rabbitmqMemoryLimit", expected: "at least 256m", given: s.memoryLimit });
    }
    const twice = s.apps.filter((a, i) => s.apps.indexOf(a) !== i);
    if (twice.length > 0) problems.push({ key: "rabbitmqApps", expected: `each application once (remove the second ${[...new Set(twice)].join(", ")})`, given: s.apps });
    if (s.apps.includes(s.adminUser)) {
      problems.push({ key: "rabbitmqApps", expected: `application names other than the administrator rabbitmqAdminUser (${s.adminUser}): rename the application or set rabbitmqAdminUser`, given: s.apps });
    }
    return problems;
  },
};
