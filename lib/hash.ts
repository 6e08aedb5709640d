import { createHash } from "node:crypto";

/** First 10 hex digits of the SHA-256 of a value: enough to tell versions apart. */
export function contentHash(content: string): string {
  return createHash("sha256").update(content).digest("hex").slice(0, 10);
}
