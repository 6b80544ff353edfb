/**
 * Which backbone a run trains: IR-ResNet (`iresnet.ts`, the ArcFace paper's) or MobileFaceNet
 * (`mobilefacenet.ts`, arcface_torch's mbf / mbf-large). The config stays IR-ResNet's shape with an
 * optional `arch` (absent = IR-ResNet, so older checkpoints and exports read as before).
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

export type NetworkArch = "iresnet" | MbfArch;

export interface NetworkOptions extends IResNetOptions {
  /** Backbone family. Default: "iresnet" (then `depth` picks r18..r100). */
  arch?: NetworkArch;
}

/** Filled-in options; for MobileFaceNet `depth` is unused, `width` is 1 and `dropout` 0. */
export type NetworkConfig = Required<IResNetCoreOptions> & IResNetOptions & { arch?: NetworkArch };

export function isMbf(config: NetworkOptions): boolean {
  return config.arch !== undefined && config.arch in MBF_ARCHS;
}

/** Fills in defaults and validates; throws a RangeError naming the bad setting. */
export function networkConfig(options: NetworkOptions = {}): NetworkConfig {
  const arch = options.arch ?? "iresnet";
  if (arch === "iresnet") {
    const c = iresnetConfig(options);
    return options.arch ? { ...c, arch } : c;
  }
  if (!(arch in MBF_ARCHS)) {
    throw new RangeError(`Unknown network "${arch}": expected iresnet, mbf or mbf-large`);
  }
  if ((options.width ?? 1) !== 1) {
    throw new RangeError(
      `MobileFaceNet (${arch}) has no width multiplier (its scale is fixed), got width ${options.width}`,
    );
  }
  if ((options.dropout ?? 0) !== 0) {
    throw new RangeError(
      `MobileFaceNet (${arch}) has no dropout layer, as in arcface_torch, got dropout ${options.dropout}`,
    );
  }
  const m = mbfConfig({ ...options, arch });
  return {
    arch,
    depth: options.depth ?? 0,
    width: 1,
    inputSize: m.inputSize,
    embeddingSize: m.embeddingSize,
    dropout: 0,
    seed: m.seed,
  };
}

/** The MobileFaceNet part of a MobileFaceNet network config. */
export function asMbfConfig(config: NetworkConfig): MbfConfig {
  return mbfConfig({
    arch: config.arch as MbfArch,
    inputSize: config.inputSize,
    embeddingSize: config.embeddingSize,
    seed: config.seed,
  });
}

export function buildNetwork(config: NetworkConfig): tfTypes.LayersModel {
  return isMbf(config) ? buildMobileFaceNet(asMbfConfig(config)) : buildIResNet(config);
}

/** "iresnet50", "mbf", "mbf-large" (logs and export metadata). */
export function networkName(config: NetworkOptions): string {
  return isMbf(config) ? config.arch! : `iresnet${config.depth}`;
}
