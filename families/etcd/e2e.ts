/** The etcd family's image for the end-to-end suite, from Debian packages. */
import type { ImageRecipe } from "../kit/e2e-recipe";

export const ETCD_RECIPES: readonly ImageRecipe[] = [
  {
    name: "etcd",
    packages: ["etcd-server", "etcd-client"],
    // Owned by root, as WORKDIR makes it in the official image: the member runs as root with
    // every capability dropped (no CAP_DAC_OVERRIDE), so it can only enter a folder it owns;
    // the Debian package makes it the etcd user's.
    customize: ["install -d -m 0700 -o root -g root /var/lib/etcd"],
    changes: ['CMD ["etcd"]'],
    notes: "etcd and etcdctl on PATH, as in the official image",
  },
];
