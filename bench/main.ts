/**
 * `deno task bench [all|engine|io|big]`: benchmarks, each printing ratios measured in one run.
 * `big` (a mamba-2.8b-shaped checkpoint, 11 GB) runs only when named.
 *
 * @module
 */
import { benchEngine } from "./engine.ts";
import { benchBigModel } from "./big_model.ts";

const which = Deno.args[0] ?? "all";
if (which === "all" || which === "engine") await benchEngine();
if (which === "all" || which === "io") await import("./io.ts");
if (which === "big") await benchBigModel(Deno.args[1]);
