/** The etcd family's image for the end-to-end suite, from Debian packages. */
import type { ImageRecipe } from "../kit/e2e-recipe";

export const ETCD_RECIPES: readonly ImageRecipe[] = [
  {
    name: "etcd",
    packages: ["etcd-server", "etcd-client"],
    customize: ["install -d -m 0700 /var/lib/etcd"],
    changes: ['CMD ["etcd"]'],
    notes: "etcd and etcdctl on PATH, as in the official image",
  },
];
