/**
 * `deno task bench [all|engine|io|big|transformers]`: benchmarks, each printing ratios measured in
 * one run. `big` (a mamba-2.8b-shaped checkpoint, 11 GB) and `transformers` (needs torch and
 * transformers, see tools/hf/requirements.txt) run only when named.
 *
 * @module
 */
import { benchEngine } from "./engine.ts";
import { benchBigModel } from "./big_model.ts";
import { benchTransformers } from "./transformers.ts";

const which = Deno.args[0] ?? "all";
if (which === "all" || which === "engine") await benchEngine();
if (which === "all" || which === "io") await import("./io.ts");
if (which === "big") await benchBigModel(Deno.args[1]);
if (which === "transformers") await benchTransformers();
