/** The RabbitMQ family's image for the end-to-end suite, from Debian packages. */
import { join } from "node:path";
import type { ImageRecipe } from "../kit/e2e-recipe";

export const RABBITMQ_RECIPES: readonly ImageRecipe[] = [
  {
    name: "rabbitmq",
    packages: ["rabbitmq-server"],
    customize: [
      "install -d -o rabbitmq -g rabbitmq -m 0750 /var/lib/rabbitmq /var/log/rabbitmq",
      "install -d /usr/local/lib/e2e-bin",
      { upload: "rabbitmq-seed-first.sh", to: "/usr/local/lib/e2e-bin/rabbitmq-server" },
      "chmod 0755 /usr/local/lib/e2e-bin/rabbitmq-server",
    ],
    filesDir: join(__dirname, "files", "e2e"),
    // Debian's wrappers in /usr/sbin send the server's console output to a file and su to the
    // rabbitmq user; the official image puts the plain scripts first on PATH, logging to stdout.
    // Before them, the seed-first wrapper (see files/e2e/rabbitmq-seed-first.sh).
    changes: [
      "ENV PATH=/usr/local/lib/e2e-bin:/usr/lib/rabbitmq/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "ENV HOME=/var/lib/rabbitmq",
      'CMD ["rabbitmq-server"]',
    ],
    notes:
      "the plain RabbitMQ scripts on PATH (Debian's wrappers log to a file), HOME /var/lib/rabbitmq, and a wrapper that " +
      "gives RabbitMQ 3.10 the seed-node first formation of 3.13+ (the production image's 4.0)",
  },
];
