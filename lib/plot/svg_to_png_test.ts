import { assert, assertEquals, assertRejects } from "../../tests/_assert.ts";
import { SoupError } from "../util/errors.ts";
import { Plot, renderPlot } from "./render.ts";
import { svgToPng } from "./svg_to_png.ts";

/** Decodes an 8-bit RGBA or RGB, non-interlaced PNG (what resvg writes) to RGBA rows. */
async function decodePng(png: Uint8Array<ArrayBuffer>): Promise<{
  width: number;
  height: number;
  rgba: Uint8Array;
}> {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  assertEquals(Array.from(png.subarray(0, 8)), [137, 80, 78, 71, 13, 10, 26, 10], "signature");
  let width = 0, height = 0, colorType = 0;
  const idat: Uint8Array<ArrayBuffer>[] = [];
  for (let at = 8; at < png.length;) {
    const length = view.getUint32(at);
    const type = new TextDecoder().decode(png.subarray(at + 4, at + 8));
    const data = png.subarray(at + 8, at + 8 + length);
    if (type === "IHDR") {
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      assertEquals(data[8], 8, "bit depth");
      colorType = data[9];
      assertEquals(data[12], 0, "interlace");
    } else if (type === "IDAT") idat.push(data);
    at += 12 + length;
  }
  const channels = colorType === 6 ? 4 : colorType === 2 ? 3 : 0;
  assert(channels > 0, `unexpected PNG color type ${colorType}`);
  const raw = new Uint8Array(
    await new Response(new Blob(idat).stream().pipeThrough(new DecompressionStream("deflate")))
      .arrayBuffer(),
  );
  const stride = width * channels;
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[y * stride + x - channels] : 0;
      const b = y > 0 ? out[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? out[(y - 1) * stride + x - channels] : 0;
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      const pred = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter];
      out[y * stride + x] = (line[x] + pred) & 255;
    }
  }
  if (channels === 4) return { width, height, rgba: out };
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    rgba.set(out.subarray(i * 3, i * 3 + 3), i * 4);
    rgba[i * 4 + 3] = 255;
  }
  return { width, height, rgba };
}

/** Pixels in [x0, x1) x [y0, y1) that are not opaque white. */
function inkIn(
  img: { width: number; rgba: Uint8Array },
  [x0, y0, x1, y1]: [number, number, number, number],
): number {
  let n = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = (y * img.width + x) * 4;
      const px = img.rgba.subarray(i, i + 4);
      if (px[0] < 250 || px[1] < 250 || px[2] < 250 || px[3] < 255) n++;
    }
  }
  return n;
}

// Text only (no axes): "Hello" centred in a 200 x 120 frame.
function textPlot(text: string): string {
  return renderPlot({
    width: 200,
    height: 120,
    axis: null,
    x: { domain: [0, 1] },
    y: { domain: [0, 1] },
    marks: [Plot.text([text], { frameAnchor: "middle", fontSize: 20 })],
  });
}

Deno.test("svgToPng() writes a PNG of the plot's size times the scale", async () => {
  const svg = renderPlot({
    width: 160,
    height: 90,
    marks: [Plot.dot([{ x: 1, y: 2 }, { x: 2, y: 3 }], { x: "x", y: "y" })],
  });
  for (const [scale, width, height] of [[1, 160, 90], [2, 320, 180], [0.5, 80, 45]]) {
    const png = await svgToPng(svg, scale === 2 ? {} : { scale });
    assert(png instanceof Uint8Array && png.buffer instanceof ArrayBuffer);
    const view = new DataView(png.buffer);
    assertEquals([view.getUint32(0), view.getUint32(4)], [0x89504e47, 0x0d0a1a0a], "signature");
    assertEquals(new TextDecoder().decode(png.subarray(12, 16)), "IHDR");
    assertEquals([view.getUint32(16), view.getUint32(20)], [width, height], `scale ${scale}`);
  }
});

Deno.test("svgToPng() draws text where the text is and nothing elsewhere", async () => {
  const img = await decodePng(await svgToPng(textPlot("Hello"), { scale: 1 }));
  assertEquals([img.width, img.height], [200, 120]);
  // "Hello" at 20px is about 50 x 15 px around the centre (100, 60).
  const text = inkIn(img, [70, 50, 130, 70]);
  assert(text > 100, `only ${text} dark pixels where "Hello" is: the text did not render`);
  assertEquals(inkIn(img, [0, 0, 200, 40]), 0, "ink above the text");
  assertEquals(inkIn(img, [0, 80, 200, 120]), 0, "ink below the text");
  const blank = await decodePng(await svgToPng(textPlot(""), { scale: 1 }));
  assertEquals(inkIn(blank, [0, 0, 200, 120]), 0, "ink without text");
});

Deno.test("svgToPng() leaves the background transparent when asked", async () => {
  const img = await decodePng(
    await svgToPng(textPlot(""), { scale: 1, background: "transparent" }),
  );
  assertEquals(img.rgba[3], 0, "alpha of the first pixel");
});

Deno.test("svgToPng() fails clearly without a usable font", async () => {
  const notAFont = await Deno.makeTempFile({ suffix: ".ttf" });
  try {
    await Deno.writeTextFile(notAFont, "not a font");
    await assertRejects(
      () => svgToPng(textPlot("Hello"), { fontFiles: [notAFont] }),
      SoupError,
      "fonts-dejavu-core",
    );
    await assertRejects(
      () => svgToPng(textPlot("Hello"), { fontFiles: [`${notAFont}.missing`] }),
      SoupError,
      "not found",
    );
    await assertRejects(() => svgToPng("<svg", { scale: 0 }), SoupError, '"0"');
  } finally {
    await Deno.remove(notAFont);
  }
});
