import { stringify } from "yaml";

/** A generated YAML document: a comment line that says so, then the value without line folding. */
export function yamlDocument(header: string, value: unknown): string {
  return `# ${header}\n` + stringify(value, { lineWidth: 0 });
}
