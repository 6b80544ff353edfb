/**
 * Worker side of `DecodePool`: each Deno Worker loads its own decoders (TurboJPEG, sharp) and
 * decodes what it is sent, transferring the result buffer back (no copy).
 * Jobs: "image" -> RGB uint8 (`decodeImage`); "train" -> normalized float32 (`trainImage`),
 * transferred back, or written into the slot `options.out` of a SharedArrayBuffer batch.
 */
import { DecodeError, decodeImage, type DecodeImageOptions } from "./decode_image.ts";
import { trainImage, type TrainImageOptions } from "./train_image.ts";

type Job =
  | { id: number; kind: "image"; input: string | Uint8Array; options: DecodeImageOptions }
  | { id: number; kind: "train"; input: string | Uint8Array; options: TrainImageOptions };

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<Job>) => void) | null;
  postMessage(msg: unknown, transfer?: Transferable[]): void;
};

/** A view on part of a larger (pooled) buffer is copied; a whole buffer is transferred. */
function own<T extends Uint8Array | Float32Array>(a: T): T {
  return (a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : a.slice()) as T;
}

scope.onmessage = async (e: MessageEvent<Job>) => {
  const job = e.data;
  try {
    if (job.kind === "train" && job.options.out) {
      // A slot of a shared batch buffer: the image is written in place, nothing travels back.
      await trainImage(job.input, job.options);
      scope.postMessage({ id: job.id });
      return;
    }
    if (job.kind === "train") {
      const data = own(await trainImage(job.input, job.options));
      scope.postMessage({ id: job.id, data }, [data.buffer as ArrayBuffer]);
      return;
    }
    const img = await decodeImage(job.input, job.options);
    const px = own(img.pixels);
    scope.postMessage({ id: job.id, data: px, height: img.height, width: img.width }, [
      px.buffer as ArrayBuffer,
    ]);
  } catch (err) {
    // Only a DecodeError (a bad file) may be skipped by the caller; anything else is a real fault.
    const decodeError = err instanceof DecodeError;
    const source = decodeError ? err.source : String(job.options.name ?? job.input);
    scope.postMessage({ id: job.id, error: (err as Error).message, source, decodeError });
  }
};
