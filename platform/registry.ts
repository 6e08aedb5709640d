/**
 * THE list of service families, one line each, in the order the platform declares
 * them (services roll in this order; monitoring aggregates the others whatever its
 * place). A new family is one folder under families/ and one line here.
 */
import type { Family } from "../families/kit/family";
import { redisFamily } from "../families/redis";
import { rabbitmqFamily } from "../families/rabbitmq";
import { etcdFamily } from "../families/etcd";
import { vaultFamily } from "../families/vault";
import { apisixFamily } from "../families/apisix";
import { edgeFamily } from "../families/edge";
import { monitoringFamily } from "../families/monitoring";
import { externalDatabasesFamily } from "../families/external-databases";
import { backupFamily } from "../families/backup";

export const FAMILIES: readonly Family[] = [
  redisFamily,
  rabbitmqFamily,
  etcdFamily,
  vaultFamily,
  apisixFamily,
  edgeFamily,
  monitoringFamily,
  externalDatabasesFamily,
  backupFamily,
];
