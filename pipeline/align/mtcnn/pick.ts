/**
 * Which detected face stands for the subject of a one-person photo (LFW, MS1M).
 *
 * "center" is facenet's `align_dataset_mtcnn.py` rule: the largest box, penalized by twice the
 * squared distance of its centre from the image centre, so a large face at the edge does not beat
 * the subject in the middle.
 */
import type { Detection } from "./detect.ts";

/** Face choice rule. */
export type PickRule = "center" | "largest" | "score";
export const PICK_RULES: readonly PickRule[] = ["center", "largest", "score"];

/** Index of the chosen face in `faces`, or -1 when there is none. */
export function pickFace(
  faces: readonly Detection[],
  width: number,
  height: number,
  rule: PickRule = "center",
): number {
  let best = -1, bestValue = -Infinity;
  for (let i = 0; i < faces.length; i++) {
    const [x, y, w, h] = faces[i].box;
    let value: number;
    if (rule === "score") value = faces[i].score;
    else if (rule === "largest") value = w * h;
    else {
      const dx = x + w / 2 - width / 2, dy = y + h / 2 - height / 2;
      value = w * h - 2 * (dx * dx + dy * dy);
    }
    if (value > bestValue) best = i, bestValue = value;
  }
  return best;
}
