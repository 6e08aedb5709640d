/** The monitoring family's images for the end-to-end suite, from Debian packages (Debian has no Grafana or cAdvisor). */
import type { ImageRecipe } from "../kit/e2e-recipe";

/** Where the official prom/* images keep their data, owned by nobody as they run. */
const NOBODY = "65534";

export const MONITORING_RECIPES: readonly ImageRecipe[] = [
  {
    name: "prometheus",
    packages: ["prometheus", "wget"],
    // 210 MB of time zone data for the web UI's clock; the server and its API never read it.
    excludes: ["/usr/share/javascript/moment-timezone/*"],
    customize: [`install -d -o ${NOBODY} -g ${NOBODY} /prometheus`, "install -d /usr/share/prometheus/console_libraries /usr/share/prometheus/consoles"],
    changes: [`USER ${NOBODY}`, "WORKDIR /prometheus", 'ENTRYPOINT ["/usr/bin/prometheus"]'],
    notes: "entrypoint /usr/bin/prometheus as user nobody, /prometheus owned by nobody (the official layout)",
  },
  {
    name: "alertmanager",
    packages: ["prometheus-alertmanager", "wget"],
    customize: [`install -d -o ${NOBODY} -g ${NOBODY} /alertmanager`],
    changes: [`USER ${NOBODY}`, "WORKDIR /alertmanager", 'ENTRYPOINT ["/usr/bin/prometheus-alertmanager"]'],
    notes: "entrypoint /usr/bin/prometheus-alertmanager as user nobody, /alertmanager owned by nobody",
  },
  {
    name: "nodeExporter",
    packages: ["prometheus-node-exporter", "wget"],
    customize: [],
    changes: [`USER ${NOBODY}`, 'ENTRYPOINT ["/usr/bin/prometheus-node-exporter"]'],
    notes: "entrypoint /usr/bin/prometheus-node-exporter as user nobody",
  },
];
