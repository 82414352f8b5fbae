/**
 * `deno task bench [all|engine|io|store|big|transformers|gpu|scale]`: benchmarks, each printing ratios measured
 * in one run. `big` (a mamba-2.8b-shaped checkpoint, 11 GB), `transformers` (needs torch and
 * transformers, see tools/hf/requirements.txt), `gpu` (WebGPU against the CPU, made for the
 * GPU machine: tools/gpu/run.sh) and `scale` (the scale figure's indexes on the organism's
 * 10,176-state library) run only when named.
 *
 * @module
 */
import { benchEngine } from "./engine.ts";
import { benchBigModel } from "./big_model.ts";
import { benchTransformers } from "./transformers.ts";
import { benchGpu } from "./gpu.ts";
import { benchStore } from "./store.ts";
import { benchScale } from "./scale.ts";

const which = Deno.args[0] ?? "all";
if (which === "all" || which === "engine") await benchEngine();
if (which === "all" || which === "io") await import("./io.ts");
if (which === "all" || which === "store") await benchStore();
if (which === "big") await benchBigModel(Deno.args[1]);
if (which === "transformers") await benchTransformers(Deno.args.slice(1));
if (which === "gpu") await benchGpu(Deno.args.slice(1));
if (which === "scale") await benchScale();
