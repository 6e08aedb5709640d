/**
 * The backup runner's image, from Debian packages: the production image too (no upstream
 * image carries restic with every dump tool), built and pushed by the operator
 * (docs/backup.md) or by the end-to-end suite.
 */
import type { ImageRecipe } from "../kit/e2e-recipe";

export const BACKUP_RECIPES: readonly ImageRecipe[] = [
  {
    name: "backup",
    packages: ["restic", "openssh-client", "redis-server", "redis-tools", "etcd-server", "etcd-client", "curl", "ca-certificates", "jq", "sqlite3", "busybox", "coreutils", "mawk"],
    customize: ["install -d -m 0700 /var/lib/backup /run/backup"],
    changes: ['CMD ["/platform/backup.sh", "serve"]'],
    notes: "restic with ssh for SFTP, redis-cli/redis-server (RDB dump and restore), etcdctl/etcd (snapshot and restore), curl, jq, sqlite3, busybox httpd for the metrics",
  },
];
