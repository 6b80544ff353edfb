/**
 * The lean training forward pass of whichever backbone a `NetworkConfig` names: IR-ResNet
 * (`train_forward.ts`) or MobileFaceNet (`mbf_forward.ts`), both on the LayersModel's variables.
 */
import type * as tfTypes from "@tensorflow/tfjs";
import { asMbfConfig, isMbf, type NetworkConfig } from "../nets/network.ts";
import { iresnetConfig } from "../nets/iresnet.ts";
import { mbfTrainForward } from "./mbf_forward.ts";
import { trainForward, type TrainForwardOptions, variablesByName } from "./train_forward.ts";

export function networkTrainForward(
  model: tfTypes.LayersModel,
  config: NetworkConfig,
  x: tfTypes.Tensor4D,
  options: TrainForwardOptions = {},
  vars: Map<string, tfTypes.Variable> = variablesByName(model),
): tfTypes.Tensor2D {
  if (isMbf(config)) return mbfTrainForward(asMbfConfig(config), x, vars);
  return trainForward(model, iresnetConfig(config), x, options, vars);
}
