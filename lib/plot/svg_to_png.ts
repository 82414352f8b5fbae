/**
 * SVG to PNG. Placeholder until the plot module lands: fails clearly.
 *
 * @module
 */
import { SoupError } from "../util/errors.ts";

/** Renders an SVG document to PNG bytes. */
export function svgToPng(_svg: string): Promise<Uint8Array<ArrayBuffer>> {
  return Promise.reject(new SoupError("PNG rendering is not available yet"));
}
