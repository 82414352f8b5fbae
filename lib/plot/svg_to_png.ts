/**
 * SVG to PNG through resvg (`@resvg/resvg-js`, a native N-API addon whose per-platform
 * package npm installs as an optional dependency; Deno loads it with `nodeModulesDir: "auto"`).
 *
 * Fonts: resvg draws text only with fonts it was given. By default it gets DejaVu Sans from
 * Debian's `fonts-dejavu-core` (`/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf`, installed by
 * `.ci/run`) and no system fonts, so the same SVG gives the same PNG on every machine with that
 * package. `SOUP_FONT` (one or more `.ttf`/`.otf` paths joined by `:`) or the `fontFiles` option
 * picks other files. Only when none of these exists are the system's fonts loaded instead. Every
 * generic family (`sans-serif`, `system-ui`, ...) maps to the first font given. Before the first
 * render a probe checks that text really shows, and fails with what to install when it does not:
 * a figure whose labels silently vanish is worse than an error.
 *
 * @module
 */
import { SoupError } from "../util/errors.ts";

/** Options of {@link svgToPng}. */
export interface SvgToPngOptions {
  /** Pixels per SVG unit. @default 2 */
  scale?: number;
  /** Fill behind the figure (any CSS color); `"transparent"` for none. @default "white" */
  background?: string;
  /** Font files for text. @default `$SOUP_FONT` split on `:`, else DejaVu Sans from fonts-dejavu-core */
  fontFiles?: string[];
}

/** Where Debian's fonts-dejavu-core puts DejaVu Sans. */
export const DEJAVU_SANS = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
const DEJAVU_SANS_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";

type ResvgModule = typeof import("npm:@resvg/resvg-js@2.6.2");
type FontOptions = NonNullable<import("npm:@resvg/resvg-js@2.6.2").ResvgRenderOptions["font"]>;

let resvgModule: Promise<ResvgModule> | undefined;
const checkedFonts = new Map<string, Promise<void>>();

/**
 * Renders an SVG document to PNG bytes: `scale` pixels per SVG unit (the PNG of a 640 x 400
 * figure is 1280 x 800 by default) on a white background.
 *
 * @example
 * ```ts
 * import { svgToPng } from "./svg_to_png.ts";
 * const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="30" height="20"><text y="15">Hi</text></svg>';
 * const png = await svgToPng(svg, { scale: 1 });
 * const view = new DataView(png.buffer);
 * // The PNG signature, then the IHDR chunk: width and height, big-endian.
 * if (view.getUint32(0) !== 0x89504e47) throw new Error("not a PNG");
 * if (view.getUint32(16) !== 30 || view.getUint32(20) !== 20) throw new Error("wrong size");
 * ```
 */
export async function svgToPng(
  svg: string,
  options: SvgToPngOptions = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const { scale = 2, background = "white" } = options;
  if (!(scale > 0 && Number.isFinite(scale))) {
    throw new SoupError(`Cannot render PNG: scale must be a positive number, got "${scale}"`);
  }
  const resvg = await loadResvg();
  const font = fontOptions(options.fontFiles);
  await checkFonts(resvg, font);
  const image = await resvg.renderAsync(svg, {
    font,
    fitTo: scale === 1 ? { mode: "original" } : { mode: "zoom", value: scale },
    ...(background === "transparent" ? {} : { background }),
    logLevel: "off",
  });
  return new Uint8Array(image.asPng());
}

function loadResvg(): Promise<ResvgModule> {
  resvgModule ??= import("npm:@resvg/resvg-js@2.6.2").catch((err) => {
    resvgModule = undefined;
    throw new SoupError(
      `Cannot load "@resvg/resvg-js" for PNG rendering (its native package for ` +
        `${Deno.build.os}-${Deno.build.arch} may be missing: run "deno install"): ${
          err instanceof Error ? err.message : err
        }`,
      { cause: err },
    );
  });
  return resvgModule;
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Font options: the given files, else $SOUP_FONT, else DejaVu Sans, else the system's fonts. */
function fontOptions(given: string[] | undefined): FontOptions {
  const env = Deno.env.get("SOUP_FONT");
  const requested = given ?? (env ? env.split(":").filter((p) => p !== "") : undefined);
  if (requested) {
    const missing = requested.filter((p) => !exists(p));
    if (missing.length > 0 || requested.length === 0) {
      throw new SoupError(
        `Cannot render PNG text: font file "${missing[0] ?? ""}" not found` +
          (given ? "" : " (from SOUP_FONT)"),
      );
    }
    return { loadSystemFonts: false, fontFiles: requested };
  }
  if (exists(DEJAVU_SANS)) {
    const family = "DejaVu Sans";
    return {
      loadSystemFonts: false,
      fontFiles: [DEJAVU_SANS, DEJAVU_SANS_BOLD].filter(exists),
      defaultFontFamily: family,
      sansSerifFamily: family,
      serifFamily: family,
      monospaceFamily: family,
      cursiveFamily: family,
      fantasyFamily: family,
    };
  }
  return { loadSystemFonts: true };
}

/** Renders "H" once per font setup and fails when no pixel is drawn. */
function checkFonts(resvg: ResvgModule, font: FontOptions): Promise<void> {
  const key = JSON.stringify(font);
  let check = checkedFonts.get(key);
  if (!check) {
    check = (async () => {
      const probe = '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20">' +
        '<text x="2" y="16" font-size="16" font-family="system-ui, sans-serif">H</text></svg>';
      const image = await resvg.renderAsync(probe, { font, logLevel: "off" });
      const px = image.pixels;
      let drawn = 0;
      for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) drawn++;
      if (drawn === 0) {
        throw new SoupError(
          `Cannot render PNG text: no usable font (${
            font.fontFiles ? `tried ${font.fontFiles.map((f) => `"${f}"`).join(", ")}` : "no " +
              `"${DEJAVU_SANS}" and no system font`
          }). Install Debian's fonts-dejavu-core (apt-get install fonts-dejavu-core) ` +
            `or set SOUP_FONT to a .ttf file`,
        );
      }
    })();
    check.catch(() => checkedFonts.delete(key));
    checkedFonts.set(key, check);
  }
  return check;
}
