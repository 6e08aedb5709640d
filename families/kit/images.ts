/**
 * Every family declares the pinned default image of each thing it runs. One setting
 * per image (`image<Key>`, e.g. imageRedis) overrides it; a tag is always explicit and
 * never `latest`, so a redeploy never pulls something nobody reviewed.
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
