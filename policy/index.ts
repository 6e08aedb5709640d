/**
 * The platform's policy pack. Run it with a preview or an update:
 *
 *   pulumi preview --policy-pack policy
 *
 * The CLI starts this file with ts-node from the policy/ directory; modules
 * resolve from the project's node_modules (policy/package.json declares no
 * dependencies of its own, so there is nothing to install here).
 */
import { PolicyPack } from "@pulumi/policy";
import { POLICIES } from "./policies";

new PolicyPack("swarm-platform", {
  description: "Hetzner + Docker Swarm platform rules: closed firewalls, protected prod servers, bounded and healthy pinned services, pinned stateful members, encrypted prod overlays.",
  policies: [...POLICIES],
});
