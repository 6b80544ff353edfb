/**
 * Worker side of `DecodePool`: each Deno Worker loads its own sharp and decodes what it is sent,
 * transferring the pixel buffer back (no copy).
 */
import { DecodeError, decodeImage, type DecodeImageOptions } from "./decode_image.ts";

interface Job {
  id: number;
  input: string | Uint8Array;
  options: DecodeImageOptions;
}

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<Job>) => void) | null;
  postMessage(msg: unknown, transfer?: Transferable[]): void;
};

scope.onmessage = async (e: MessageEvent<Job>) => {
  const { id, input, options } = e.data;
  try {
    const img = await decodeImage(input, options);
    // sharp may hand back a view on a larger (pooled) buffer: copy only then, else transfer.
    const px = img.pixels.byteOffset === 0 && img.pixels.byteLength === img.pixels.buffer.byteLength
      ? img.pixels
      : img.pixels.slice();
    scope.postMessage({ id, pixels: px, height: img.height, width: img.width }, [
      px.buffer as ArrayBuffer,
    ]);
  } catch (err) {
    const source = err instanceof DecodeError ? err.source : String(options.name ?? input);
    scope.postMessage({ id, error: (err as Error).message, source });
  }
};
