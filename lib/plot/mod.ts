/** Figures: pure functions from result rows to SVG, and SVG to PNG. @module */
export * from "./render.ts";
export * from "./svg_to_png.ts";
