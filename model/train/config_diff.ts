/**
 * What a resume may change. A resumed run continues with the config stored in `DIR/run.json`;
 * the fields that extend or re-pace it (steps, epochs, the LR schedule, checkpoint/log/eval
 * cadence, keep) may differ and are recorded, while a difference in anything that would change
 * the network, the data, the head or the optimizer's math is a conflict. (Which command-line flags
 * map to which fields is the train task's business: tasks/train/resume.ts.)
 */
import type { TrainConfig } from "./presets.ts";

/** Config fields (top-level) a resume may change; every other field is fixed. */
export const EXTEND_FIELDS: readonly string[] = [
  "steps",
  "epochs",
  "schedule",
  "checkpointEvery",
  "keep",
  "logEvery",
  "evalEvery",
  "evalPairs",
  "evalData",
  "valTargets",
];

/** One difference between two configs. */
export interface ConfigChange {
  field: string;
  from: unknown;
  to: unknown;
}

function flatten(x: unknown, prefix: string, out: Map<string, unknown>): Map<string, unknown> {
  // "seed" is the old name of the "no-bias" decay set: a run stored with it is the same run.
  if (prefix === "decayOn" && x === "seed") x = "no-bias";
  if (x !== null && typeof x === "object" && !Array.isArray(x)) {
    for (const [k, v] of Object.entries(x)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (x !== undefined) out.set(prefix, x);
  return out;
}

/** Leaf-by-leaf differences between two configs (arrays compared whole). */
export function configDiff(a: TrainConfig, b: TrainConfig): ConfigChange[] {
  const fa = flatten(a, "", new Map());
  const fb = flatten(b, "", new Map());
  const changes: ConfigChange[] = [];
  for (const field of new Set([...fa.keys(), ...fb.keys()])) {
    const from = fa.get(field);
    const to = fb.get(field);
    if (JSON.stringify(from) !== JSON.stringify(to)) changes.push({ field, from, to });
  }
  return changes;
}

/** True for a field a resume may change (`schedule.totalSteps` is under `schedule`). */
export const isExtendField = (field: string): boolean =>
  EXTEND_FIELDS.includes(field.split(".")[0]);

/** A config value for a message: `(unset)`, strings bare, the rest as JSON. */
export function showValue(v: unknown): string {
  if (v === undefined) return "(unset)";
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** Changes `config` makes to `stored` that a resume may not make, as messages naming `source`. */
export function configConflicts(
  stored: TrainConfig,
  config: TrainConfig,
  source: string,
): string[] {
  return configDiff(stored, config).filter((d) => !isExtendField(d.field)).map((d) =>
    `${d.field} ${showValue(d.to)} conflicts with the run's ${showValue(d.from)} (${source})`
  );
}

/** The extending changes `config` makes to `stored` (what a resume prints and records). */
export function extendChanges(stored: TrainConfig, config: TrainConfig): ConfigChange[] {
  return configDiff(stored, config).filter((d) => isExtendField(d.field));
}
