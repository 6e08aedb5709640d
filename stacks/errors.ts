/** One bad setting: the key, what was expected, and what was given. */
export interface ConfigProblem {
  readonly key: string;
  readonly expected: string;
  readonly given: unknown;
}

export function describeGiven(value: unknown): string {
  if (value === undefined) return "nothing (the setting is missing)";
  if (typeof value === "string") return JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

export function formatProblem(namespace: string, p: ConfigProblem): string {
  const key = p.key.includes(":") ? p.key : `${namespace}:${p.key}`;
  return `${key}: expected ${p.expected}, got ${describeGiven(p.given)}`;
}

/**
 * Every problem found in a stack's configuration, reported together so one
 * `pulumi preview` shows all of them. Thrown before any resource is declared.
 */
export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(namespace: string, problems: readonly ConfigProblem[]) {
    const lines = problems.map((p) => `  - ${formatProblem(namespace, p)}`);
    super(`invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${lines.join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }

  /** The keys that have a problem, for tests and tooling. */
  get keys(): string[] {
    return this.problems.map((p) => p.key);
  }
}

/** Thrown by a parser for a single value; the loader attaches the key. */
export class ValueError extends Error {
  constructor(
    readonly expected: string,
    readonly given: unknown,
    readonly subKey?: string,
  ) {
    super(`expected ${expected}, got ${describeGiven(given)}`);
    this.name = "ValueError";
  }
}
