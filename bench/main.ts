/**
 * `deno task bench`: every benchmark, each printing ratios measured in one run.
 *
 * @module
 */
import { benchEngine } from "./engine.ts";

const which = Deno.args[0] ?? "all";
if (which === "all" || which === "engine") await benchEngine();
if (which === "all" || which === "io") await import("./io.ts");
