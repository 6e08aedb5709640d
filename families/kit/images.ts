/**
 * Every family declares the pinned default image of each thing it runs. One setting
 * per image (`image<Key>`, e.g. imageRedis) overrides it; a tag is always explicit and
 * never `latest`, so a redeploy never pulls something nobody reviewed.
 *
 * Defaults carry the image index digest (`name:tag@sha256:...`) wherever two
 * independent public sources agree on it; the sources, and the images left at a
 * bare tag because no two agreed, are listed in docs/provider-facts.md (§3 fact 8).
 * The Docker client turns a bare tag into `name:tag@sha256:<index digest>` when the
 * provider creates a service, and the provider stores that: a bare tag is accepted
 * (local images for the end-to-end suite have no registry digest) but warned about.
 */
import { pinnedImage, type SettingDef } from "../../stacks/schema";
import type { Values } from "../../stacks/config";

export interface ImageDefault {
  readonly image: string;
  /** What the image runs, for the setting's description. */
  readonly why: string;
}

/** The setting that overrides an image: redis -> imageRedis, apisixDashboard -> imageApisixDashboard. */
export function imageSettingKey(key: string): string {
  return `image${key[0].toUpperCase()}${key.slice(1)}`;
}

export function imageSettings<K extends string>(group: string, images: Readonly<Record<K, ImageDefault>>): SettingDef[] {
  return (Object.keys(images) as K[]).map((key) => ({
    key: imageSettingKey(key),
    group,
    type: "string",
    expected: "an image reference with a pinned tag, e.g. redis:7.4.2 (not latest, not untagged)",
    description: `Pinned image of ${images[key].why}. Change it to upgrade deliberately (or to use a locally built image).`,
    parse: pinnedImage,
    default: images[key].image,
  }));
}

/** The configured images of a family, by key. */
export function imagesOf<K extends string>(values: Values, images: Readonly<Record<K, ImageDefault>>): Readonly<Record<K, string>> {
  return Object.fromEntries((Object.keys(images) as K[]).map((key) => [key, values.get(imageSettingKey(key)) as string])) as Record<K, string>;
}

/** Whether a reference names its content by digest (`...@sha256:<64 hex>`). */
export function hasDigest(image: string): boolean {
  return /@sha256:[a-f0-9]{64}$/.test(image);
}

/** The command that prints an image's index digest (the one the Docker client records). */
export function digestCommand(image: string): string {
  return `docker buildx imagetools inspect ${image} --format '{{json .Manifest.Digest}}'`;
}

/**
 * Plan warnings for the configured images of a family that carry no digest: the key,
 * what a bare tag costs after `pulumi up`, and how to pin it.
 */
export function unpinnedImageWarnings(configured: Readonly<Record<string, string>>): string[] {
  return Object.entries(configured)
    .filter(([, image]) => !hasDigest(image))
    .map(([key, image]) => {
      const setting = imageSettingKey(key);
      return `${setting} is ${image}, a tag without a digest. When the Docker provider creates a service it records ` +
        `${image}@sha256:<index digest> (the registry's), so the preview after the first \`pulumi up\` shows an update of every service ` +
        `that runs it (applying it restarts their tasks), and again after every re-create, until the digest is pinned; ` +
        `the tag can also be re-pushed under the running service. ` +
        `Find the digest with \`${digestCommand(image)}\` and set ${setting} to ${image}@sha256:<digest>. ` +
        `(An image that is in no registry, such as a locally built one, is recorded as given.)`;
    });
}
