/** How the end-to-end suite builds a family's image from Debian packages (e2e/images.ts runs it). */
export interface ImageRecipe {
  /** Image key of the family (the `image<Key>` setting it replaces), or "client" for the drills' own client. */
  readonly name: string;
  readonly packages: readonly string[];
  /**
   * In order: shell commands run in the finished root filesystem (chroot) as root, or files
   * of `filesDir` copied into it.
   */
  readonly customize: readonly (string | { readonly upload: string; readonly to: string })[];
  /** Folder the uploads are read from (not part of the cache key: their content is). */
  readonly filesDir?: string;
  /** `docker import --change` instructions. */
  readonly changes: readonly string[];
  /** Package files left out (dpkg path-exclude) beyond the documentation every image drops. */
  readonly excludes?: readonly string[];
  /** Why the image differs from a plain install, for e2e/README.md. */
  readonly notes: string;
}
