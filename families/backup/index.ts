/**
 * The backup family: scheduled, encrypted, deduplicated restic backups of what the
 * other families contribute (their part's `backup`), to one off-site repository, with
 * a restore command per source. It aggregates: it reads the other parts.
 */
import { familyPart, type AlertRule, type Family, type FamilyContext, type FamilyPart } from "../kit/family";
import { unpinnedImageWarnings } from "../kit/images";
import { hostPort } from "../kit/scrape";
import { serviceNodes } from "../../core/placement";
import { backupArea, type BackupSection } from "./settings";
import { activeSources, backupSpecs, restoreCommand, runnerNode, skippedSources, BACKUP_METRICS_PORT, BACKUP_SERVICE } from "./specs";
import { BACKUP_RECIPES } from "./e2e";

export { backupArea, type BackupSection } from "./settings";

/** Failed, stale and silent backups. The runner publishes its own interval, so one rule covers every source. */
export function backupRules(section: BackupSection): AlertRule[] {
  const twice = 2 * section.intervalSeconds;
  return [
    {
      alert: "BackupFailed",
      expr: 'backup_last_run_success{job="backup"} == 0',
      labels: { severity: "critical" },
      annotations: { summary: "The last backup of {{ $labels.source }} failed: `docker service logs <prefix>_backup` (docs/backup.md)" },
    },
    {
      alert: "BackupTooOld",
      // A source without any good backup counts from the runner's start, so a fresh stack does not page at once.
      expr: `(time() - max by (source) (backup_last_success_timestamp_seconds{job="backup"}) > ${twice}) ` +
        `or on(source) ((backup_last_run_timestamp_seconds{job="backup"} unless on(source) backup_last_success_timestamp_seconds{job="backup"}) ` +
        `and on() (time() - backup_runner_start_timestamp_seconds{job="backup"} > ${twice}))`,
      labels: { severity: "critical" },
      annotations: { summary: `The last good backup of {{ $labels.source }} is older than twice backupInterval (${section.interval})` },
    },
    {
      alert: "BackupRunnerSilent",
      expr: `(up{job="backup"} == 0) or absent(up{job="backup"})`,
      for: "15m",
      labels: { severity: "warning" },
      annotations: { summary: "Prometheus cannot read the backup runner's metrics: backups may not be running" },
    },
  ];
}

function build(ctx: FamilyContext<BackupSection>, others: readonly FamilyPart[]) {
  const { section, config } = ctx;
  if (!section.target) {
    return familyPart("backup", backupSpecs(ctx, others), {
      outputs: { plain: { backup: { enabled: false } }, secret: {} },
      warnings: config.profile === "prod"
        ? ["No backups: backupRepository is empty. Set it to a Storage Box (sftp:…) or S3 repository (docs/backup.md); until then the loss of all members of a family loses its data."]
        : [],
    });
  }
  const sources = activeSources(ctx, others);
  const node = runnerNode(ctx, sources);
  const manager = ctx.topology.managers[0]?.name ?? serviceNodes(ctx.topology)[0].name;
  return familyPart("backup", backupSpecs(ctx, others), {
    scrapeJobs: [{ config: { job_name: "backup", static_configs: [{ targets: [hostPort(BACKUP_SERVICE, BACKUP_METRICS_PORT)], labels: { node } }] } }],
    alertRules: [{ name: "backup", rules: backupRules(section) }],
    outputs: {
      plain: {
        backup: {
          enabled: true,
          repository: section.repository,
          target: section.target.kind === "sftp" ? `SFTP ${section.target.host}:${section.target.port}` : `S3 ${section.target.endpoint}`,
          interval: section.interval,
          retention: section.retention,
          runnerNode: node,
          sources: sources.map((c) => ({
            source: c.source,
            contents: c.contents,
            ...(c.excludes ? { excludes: c.excludes } : {}),
            restore: c.restoreNotes,
          })),
          skipped: skippedSources(ctx, others),
        },
        backupRestoreCommands: Object.fromEntries(sources.map((c) => [c.source, restoreCommand(ctx, node, c, manager)])),
      },
      secret: {},
    },
    warnings: unpinnedImageWarnings(section.images),
  });
}

export const backupFamily: Family<BackupSection> = {
  name: "backup",
  area: backupArea,
  aggregates: true,
  e2eImages: BACKUP_RECIPES,
  build,
};
