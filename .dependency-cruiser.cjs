/**
 * The layers of the program (docs/architecture.md), checked in `npm test`:
 *
 *   lib/  <  stacks/  <  core/  <  families/kit/  <  families/<name>/  <  platform/  <  analysis/
 *   components/ (Pulumi) and render/ (stack file) sit on top and never import each other;
 *   tools/, e2e/, tests/, bench/ and index.ts are the entry points above everything.
 *
 * Type-only imports count (tsPreCompilationDeps), so a type cannot smuggle a cycle or an
 * upward dependency in. tests/layers.test.ts proves that each rule reports a violation.
 */
const ABOVE = {
  lib: "^(stacks|core|families|platform|analysis|components|render|tools|e2e|tests|bench|policy)/|^index\\.ts$",
  stacks: "^(core|families|platform|analysis|components|render|tools|e2e|tests|bench|policy)/|^index\\.ts$",
  core: "^(families|platform|analysis|components|render|tools|e2e|tests|bench|policy)/|^index\\.ts$",
  families: "^(platform|analysis|components|render|tools|e2e|tests|bench|policy)/|^index\\.ts$",
  platform: "^(analysis|components|render|tools|e2e|tests|bench|policy)/|^index\\.ts$",
  analysis: "^(components|render|tools|e2e|tests|bench|policy)/|^index\\.ts$",
  tools: "^(e2e|tests|bench)/|^index\\.ts$",
  e2e: "^(tests|bench)/|^index\\.ts$",
};

const upward = (layer) => ({
  name: `${layer}-imports-no-upper-layer`,
  comment: `${layer}/ may import only the layers below it (docs/architecture.md)`,
  severity: "error",
  from: { path: `^${layer}/` },
  to: { path: ABOVE[layer] },
});

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "no module reaches itself through its imports, type-only imports included",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    ...["lib", "stacks", "core", "families", "platform", "analysis", "tools", "e2e"].map(upward),
    {
      name: "kit-imports-no-family",
      comment: "families/kit/ holds what every family shares; it knows no particular family",
      severity: "error",
      from: { path: "^families/kit/" },
      to: { path: "^families/", pathNot: "^families/kit/" },
    },
    {
      name: "no-family-imports-monitoring",
      comment: "monitoring reads the other parts; no family depends on it",
      severity: "error",
      from: { path: "^families/(?!monitoring/)" },
      to: { path: "^families/monitoring/" },
    },
    {
      name: "family-imports-another-through-its-index",
      comment: "a family uses another family's exported, client-facing functions (its index.ts), never its internals",
      severity: "error",
      from: { path: "^families/([^/]+)/" },
      to: { path: "^families/[^/]+/", pathNot: ["^families/$1/", "^families/kit/", "^families/[^/]+/index\\.ts$"] },
    },
    {
      name: "components-not-render",
      comment: "the two renderers never import each other",
      severity: "error",
      from: { path: "^components/" },
      to: { path: "^(render|tools|e2e|tests|bench|policy)/|^index\\.ts$" },
    },
    {
      name: "render-not-components",
      comment: "the two renderers never import each other",
      severity: "error",
      from: { path: "^render/" },
      to: { path: "^(components|analysis|tools|e2e|tests|bench|policy)/|^index\\.ts$" },
    },
    {
      name: "policy-is-self-contained",
      comment: "the Pulumi CLI runs the policy pack in its own process: it imports nothing of the program",
      severity: "error",
      from: { path: "^policy/" },
      to: { path: "^(lib|stacks|core|families|platform|analysis|components|render|tools|e2e|tests|bench)/|^index\\.ts$" },
    },
    {
      name: "not-to-unresolvable",
      comment: "every import resolves",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js", ".json"] },
  },
};
