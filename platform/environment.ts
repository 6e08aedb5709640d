/**
 * The operator's environment can redirect a provider the program configures explicitly.
 *
 * The Docker provider (kreuzwerker terraform-provider-docker v4.5.0, under @pulumi/docker 5.2.0)
 * reads `DOCKER_CONTEXT` when its `context` is not set, and a context overrides `host`
 * (`internal/provider/provider.go:59-63`, `configure` `:204-215`). Provider plugins inherit the
 * environment of `pulumi`, so an operator whose shell has `DOCKER_CONTEXT=staging` would have
 * every service, secret and network of this stack declared on that other engine instead of the
 * Swarm leader. Refuse to run instead, before anything is declared.
 */
export interface EnvironmentProblem {
  readonly variable: string;
  readonly message: string;
}

export function environmentProblems(env: Readonly<Record<string, string | undefined>>): EnvironmentProblem[] {
  const problems: EnvironmentProblem[] = [];
  const context = env.DOCKER_CONTEXT;
  if (context !== undefined && context !== "") {
    problems.push({
      variable: "DOCKER_CONTEXT",
      message: `DOCKER_CONTEXT is set to "${context}": the Docker provider would deploy to that context instead of ` +
        "this stack's Swarm leader (a context overrides the provider's host). Run pulumi without it: `env -u DOCKER_CONTEXT pulumi up`.",
    });
  }
  return problems;
}

/** Throws one error naming every problem; called first by the program's entry point. */
export function assertProgramEnvironment(env: Readonly<Record<string, string | undefined>> = process.env): void {
  const problems = environmentProblems(env);
  if (problems.length > 0) throw new Error(problems.map((p) => p.message).join("\n"));
}
