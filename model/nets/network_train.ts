/**
 * The lean training forward pass of whichever backbone a `NetworkConfig` names: IR-ResNet
 * (`iresnet_train.ts`) or MobileFaceNet (`mobilefacenet_train.ts`), both on the LayersModel's
 * variables.
 */
import type * as tfTypes from "@tensorflow/tfjs";
import { asMbfConfig, isMbf, type NetworkConfig } from "./network.ts";
import { iresnetConfig } from "./iresnet.ts";
import { mbfTrainForward } from "./mobilefacenet_train.ts";
import { trainForward, type TrainForwardOptions } from "./iresnet_train.ts";
import { variablesByName } from "./train_ops.ts";

export function networkTrainForward(
  model: tfTypes.LayersModel,
  config: NetworkConfig,
  x: tfTypes.Tensor4D,
  options: TrainForwardOptions = {},
  vars: Map<string, tfTypes.Variable> = variablesByName(model),
): tfTypes.Tensor2D {
  if (isMbf(config)) return mbfTrainForward(asMbfConfig(config), x, vars);
  // An IR-ResNet config (its defaults filled in by iresnetConfig).
  return trainForward(model, iresnetConfig(config), x, options, vars);
}
