/**
 * Which backbone a run trains, as a tagged union: `{ kind: "iresnet", depth, width, ... }`
 * (`iresnet.ts`, the ArcFace paper's) or
 * `{ kind: "mobilefacenet", arch: "mbf" | "mbf-large", ... }` (`mobilefacenet.ts`, arcface_torch's). Configs stored before the union (IR-ResNet's fields with
 * an optional `arch`, MobileFaceNet as `depth: 0`) still read: `asNetworkConfig` converts them.
 */
import type * as tfTypes from "@tensorflow/tfjs";
import {
  buildIResNet,
  iresnetConfig,
  type IResNetCoreOptions,
  type IResNetOptions,
} from "./iresnet.ts";
import {
  buildMobileFaceNet,
  MBF_ARCHS,
  type MbfArch,
  type MbfConfig,
  mbfConfig,
} from "./mobilefacenet.ts";

/** An IR-ResNet: the fields every config spells out, plus the optional import-time ones. */
export type IResNetNetworkConfig =
  & { kind: "iresnet" }
  & Required<IResNetCoreOptions>
  & Pick<IResNetOptions, "bnEpsilon" | "stridePadding" | "fixedFeatureScale" | "weightInit">;

/** A MobileFaceNet (no width multiplier, no dropout layer). */
export interface MobileFaceNetNetworkConfig {
  kind: "mobilefacenet";
  arch: MbfArch;
  inputSize: number;
  embeddingSize: number;
  seed: number;
}

/** The backbone of a run (stored in run.json, checkpoints and exports). */
export type NetworkConfig = IResNetNetworkConfig | MobileFaceNetNetworkConfig;

export type NetworkArch = "iresnet" | MbfArch;

/**
 * Options to build a network from: a `NetworkConfig`, or the loose pre-union shape (IR-ResNet's
 * options with `arch: "mbf"` for a MobileFaceNet).
 */
export interface NetworkOptions extends IResNetOptions {
  kind?: NetworkConfig["kind"];
  /** Backbone family. Default: "iresnet" (then `depth` picks r18..r100). */
  arch?: NetworkArch;
}

export function isMbf(
  config: NetworkOptions | NetworkConfig,
): config is MobileFaceNetNetworkConfig {
  return config.kind === "mobilefacenet" ||
    (config.kind === undefined && config.arch !== undefined && config.arch in MBF_ARCHS);
}

/**
 * The tagged form of a config without filling defaults (a stored config keeps its fields): a
 * `kind` already there is kept; `arch: "mbf" | "mbf-large"` is a MobileFaceNet; else IR-ResNet.
 */
export function asNetworkConfig(options: NetworkOptions | NetworkConfig): NetworkConfig {
  if (isMbf(options)) {
    const { arch, inputSize, embeddingSize, seed } = options as MobileFaceNetNetworkConfig;
    return { kind: "mobilefacenet", arch, inputSize, embeddingSize, seed };
  }
  const { arch: _arch, kind: _kind, ...rest } = options as NetworkOptions;
  return { kind: "iresnet", ...rest } as IResNetNetworkConfig;
}

/**
 * Fills in defaults and validates; throws a RangeError naming the bad setting.
 * @example
 * ```ts
 * import { networkConfig } from "../mod.ts";
 *
 * console.log(networkConfig({ depth: 50 })); // { kind: "iresnet", depth: 50, ... }
 * console.log(networkConfig({ arch: "mbf" })); // { kind: "mobilefacenet", arch: "mbf", ... }
 * ```
 */
export function networkConfig(options: NetworkOptions | NetworkConfig = {}): NetworkConfig {
  const arch = options.kind === "mobilefacenet"
    ? (options as MobileFaceNetNetworkConfig).arch
    : (options as NetworkOptions).arch ?? "iresnet";
  if (arch === "iresnet" || options.kind === "iresnet") {
    const { arch: _a, kind: _k, ...rest } = options as NetworkOptions;
    return { kind: "iresnet", ...iresnetConfig(rest) };
  }
  if (!(arch in MBF_ARCHS)) {
    throw new RangeError(`Unknown network "${arch}": expected iresnet, mbf or mbf-large`);
  }
  const o = options as NetworkOptions;
  if ((o.width ?? 1) !== 1) {
    throw new RangeError(
      `MobileFaceNet (${arch}) has no width multiplier (its scale is fixed), got width ${o.width}`,
    );
  }
  if ((o.dropout ?? 0) !== 0) {
    throw new RangeError(
      `MobileFaceNet (${arch}) has no dropout layer, as in arcface_torch, got dropout ${o.dropout}`,
    );
  }
  const m = mbfConfig({ ...o, arch: arch as MbfArch });
  return { kind: "mobilefacenet", ...m };
}

/** The MobileFaceNet part of a MobileFaceNet network config. */
export function asMbfConfig(config: MobileFaceNetNetworkConfig): MbfConfig {
  return mbfConfig({
    arch: config.arch,
    inputSize: config.inputSize,
    embeddingSize: config.embeddingSize,
    seed: config.seed,
  });
}

/**
 * @example
 * ```ts
 * import { buildNetwork, networkConfig } from "../mod.ts";
 *
 * const net = buildNetwork(networkConfig({ depth: 18, width: 0.25, inputSize: 64 }));
 * console.log(net.inputs[0].shape, net.outputs[0].shape); // [null, 64, 64, 3] [null, 512]
 * net.dispose();
 * ```
 */
export function buildNetwork(config: NetworkConfig): tfTypes.LayersModel {
  return isMbf(config) ? buildMobileFaceNet(asMbfConfig(config)) : buildIResNet(config);
}

/** "iresnet50", "mbf", "mbf-large" (logs and export metadata). */
export function networkName(config: NetworkOptions | NetworkConfig): string {
  return isMbf(config) ? config.arch : `iresnet${(config as NetworkOptions).depth}`;
}

/** The width multiplier (a MobileFaceNet's scale is fixed: 1), for logs and export metadata. */
export function networkWidth(config: NetworkConfig): number {
  return config.kind === "iresnet" ? config.width : 1;
}
