/** What the backup family keeps of monitoring: Grafana's database, and Prometheus' TSDB when asked to. */
import type { BackupContribution, FamilyContext } from "../kit/family";
import { NET } from "../../core/networks";
import type { MonitoringSection } from "./settings";

export function monitoringBackup(ctx: FamilyContext<MonitoringSection>): BackupContribution[] {
  const onVolume = ctx.section.grafanaDataDir === "";
  return [
    {
      source: "grafana",
      component: "grafana",
      contents: "grafana.db: users, teams, preferences, dashboards made in the UI (SQLite online backup; provisioned dashboards and data sources come from the program)",
      network: NET.backend,
      ...(onVolume ? { node: ctx.section.node } : {}),
      method: { kind: "sqlite", source: onVolume ? { volume: "grafana-data" } : { hostPath: ctx.section.grafanaDataDir }, file: "grafana.db", service: "grafana" },
      restoreNotes: "Grafana is scaled to 0, grafana.db is written back in place, Grafana is scaled to 1.",
    },
    {
      source: "prometheus",
      component: "prometheus",
      contents: "Prometheus' TSDB folder (crash-consistent copy of blocks and WAL)",
      network: NET.backend,
      node: ctx.section.node,
      method: { kind: "files", source: { volume: "prometheus-data" }, service: "prometheus" },
      optIn: "backupPrometheus",
      restoreNotes: "Prometheus is scaled to 0, the TSDB folder is replaced, Prometheus is scaled to 1.",
    },
  ];
}
