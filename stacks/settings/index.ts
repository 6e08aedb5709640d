import type { ConfigProblem } from "../errors";
import type { SettingDef } from "../schema";
import type { CoreConfig, Values } from "../config";
import { FRONT_AREA, type FrontSection } from "./front";
import { dataArea, imagesArea, type DataSection } from "./data";
import type { Images } from "../../specs/images";
import { OPERATE_AREA, type OperateSection } from "./operate";

/**
 * An area of the platform (data services, front services, operations) adds its
 * own settings and a typed section of StackConfig. `build` turns parsed values
 * into the section; `validate` checks rules that span settings.
 */
export interface Area<Name extends string, Section> {
  readonly name: Name;
  readonly settings: readonly SettingDef[];
  build(values: Values, core: CoreConfig): Section;
  validate?(section: Section, core: CoreConfig): ConfigProblem[];
}

/** Sections the areas add to StackConfig, by area name. */
export interface AreaSections {
  readonly front: FrontSection;
  readonly images: Images;
  readonly data: DataSection;
  readonly operate: OperateSection;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const AREAS: readonly Area<string, any>[] = [FRONT_AREA, imagesArea, dataArea, OPERATE_AREA];
