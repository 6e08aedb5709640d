import { majority } from "../../core/placement";
import type { AlertRule } from "./family";

/** Member-down and quorum alerts of a family of n voters scraped under `job`. */
export function quorumRules(family: string, job: string, n: number, upExpr: string): AlertRule[] {
  const title = family[0].toUpperCase() + family.slice(1);
  const rules: AlertRule[] = [{
    alert: `${title}MemberDown`,
    expr: `${upExpr} == 0`,
    for: "1m",
    labels: { severity: "warning" },
    annotations: { summary: `${family} member {{ $labels.member }} on {{ $labels.node }} is down`, description: `job ${job}: the member does not answer.` },
  }];
  if (n > 1) {
    const up = `(count(${upExpr} == 1) or vector(0))`;
    rules.push({
      alert: `${title}QuorumAtRisk`,
      expr: `${up} <= ${majority(n)}`,
      for: "1m",
      labels: { severity: "critical" },
      annotations: { summary: `${family}: {{ $value }} of ${n} members up; losing one more costs the quorum (${majority(n)})` },
    });
    rules.push({
      alert: `${title}QuorumLost`,
      expr: `${up} < ${majority(n)}`,
      for: "30s",
      labels: { severity: "critical" },
      annotations: { summary: `${family}: {{ $value }} of ${n} members up, below the quorum of ${majority(n)}` },
    });
  }
  return rules;
}
