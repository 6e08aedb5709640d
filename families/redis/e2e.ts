/** The Redis family's images for the end-to-end suite, from Debian packages. */
import type { ImageRecipe } from "../kit/e2e-recipe";

export const REDIS_RECIPES: readonly ImageRecipe[] = [
  {
    name: "redis",
    packages: ["redis-server", "redis-sentinel", "redis-tools"],
    customize: ["install -d -o redis -g redis -m 0750 /data"],
    changes: ["WORKDIR /data", 'CMD ["redis-server"]'],
    notes: "data members and Sentinels; /data owned by redis as in the official image",
  },
  {
    name: "haproxy",
    packages: ["haproxy", "bash"],
    customize: ["install -d /usr/local/etc/haproxy"],
    changes: ['CMD ["haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]'],
    notes: "the stable redis endpoint; the official image's config folder /usr/local/etc/haproxy",
  },
  {
    name: "redisExporter",
    packages: ["prometheus-redis-exporter", "wget", "mawk"],
    customize: ["ln -sf /usr/bin/prometheus-redis-exporter /redis_exporter"],
    changes: ["USER 59000:59000", 'ENTRYPOINT ["/redis_exporter"]'],
    notes: "/redis_exporter as in the official image, user 59000 (the owner the spec gives its secret file)",
  },
];
