/**
 * The CUDA route up to the device boundary, on machines without a GPU: the setup's record is
 * read as it says, a missing provider, library or driver is one line naming it and the command
 * that brings it, and `--device cuda` never runs on the CPU instead. (With PyPI's nvidia-* wheels
 * recorded, the real loader gets as far as the driver: docs/gpu.md says how that was checked.)
 */
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { inTempDir } from "./_temp.ts";
import { openEngine } from "../lib/engine/open_engine.ts";
import {
  CUDA_LIBRARIES,
  type CudaRecord,
  cudaStatus,
  ORT_GPU_WHEELS,
  ORT_VERSION,
  prepareCuda,
  probeCuda,
  PROVIDER_FILES,
  readCudaRecord,
  recordPath,
} from "../lib/onnx/cuda.ts";
import { providerReport } from "../lib/onnx/providers.ts";
import { tinyMambaConfig, writeRandomCheckpoint } from "../lib/model/random_checkpoint.ts";
import { SoupError } from "../lib/util/errors.ts";

/** A binding folder with the provider files (empty) and a record of `libraries`. */
async function fakeBinding(dir: string, libraries: Record<string, string | null>) {
  for (const f of PROVIDER_FILES) await Deno.writeFile(`${dir}/${f}`, new Uint8Array(1));
  const record: CudaRecord = {
    onnxruntime: ORT_VERSION,
    wheel: ORT_GPU_WHEELS[ORT_VERSION],
    libraries,
    searched: [dir],
    created: new Date(0).toISOString(),
  };
  await Deno.writeTextFile(recordPath(dir), JSON.stringify(record));
}

Deno.test("cudaStatus() reads the setup's record: not installed, a library missing, ready", () =>
  inTempDir("soup-cuda-", async (dir) => {
    const none = cudaStatus(dir);
    assertEquals([none.installed, none.ready], [false, false]);
    assert(none.reason.includes(`run "deno task setup cuda"`), none.reason);

    const libs: Record<string, string | null> = {};
    for (const lib of CUDA_LIBRARIES) {
      libs[lib.soname] = `${dir}/${lib.soname}`;
      await Deno.writeFile(libs[lib.soname]!, new Uint8Array(1));
    }
    await fakeBinding(dir, { ...libs, "libcublasLt.so.13": null });
    const one = cudaStatus(dir);
    assertEquals([one.installed, one.ready], [true, false]);
    assertEquals(one.missing.map((m) => m.soname), ["libcublasLt.so.13"]);
    assert(one.reason.startsWith("libcublasLt.so.13 was not found (pip install"), one.reason);
    assert(!one.reason.includes("\n"), "one line");

    await fakeBinding(dir, libs);
    assertEquals(cudaStatus(dir).ready, true);
    assertEquals(readCudaRecord(dir)?.libraries["libcuda.so.1"], `${dir}/libcuda.so.1`);
    // A recorded library deleted since the setup is missing again, and the driver says so.
    await Deno.remove(`${dir}/libcuda.so.1`);
    const gone = cudaStatus(dir);
    assertEquals(gone.missing.map((m) => m.soname), ["libcuda.so.1"]);
    assert(gone.reason.includes("NVIDIA driver"), gone.reason);
    // prepareCuda refuses before loading anything.
    try {
      prepareCuda(dir);
      throw new Error("prepareCuda passed without the driver");
    } catch (err) {
      assert(err instanceof SoupError, String(err));
      assertEquals(err.message, `Cannot use device cuda: ${gone.reason}`);
    }
  }));

Deno.test("--device cuda opens on CUDA or fails in one line naming what is missing, never on the CPU", () =>
  inTempDir("soup-cuda-", async (dir) => {
    await writeRandomCheckpoint(dir, tinyMambaConfig({ numHiddenLayers: 1 }));
    const status = cudaStatus();
    const report = (await providerReport()).find((p) => p.provider === "cuda")!;
    assertEquals(report.available, status.ready);
    const opened = await openEngine(dir, { device: "cuda" }).then(
      (engine) => engine,
      (err) => err as Error,
    );
    if (!(opened instanceof Error)) {
      // A machine with CUDA: it ran there.
      try {
        assertEquals(opened.name, "onnx-cuda");
        assert(status.ready, "cuda opened, so the setup found every library");
      } finally {
        await opened.close();
      }
      return;
    }
    assert(opened instanceof SoupError, String(opened));
    assert(!opened.message.includes("\n"), opened.message);
    if (!status.ready) {
      // The setup has not run, or a library or the driver is missing: the engine says which,
      // as the setup's record does, before it loads anything.
      assertEquals(opened.message, `Cannot use device cuda: ${status.reason}`);
      console.log(`  (this machine: ${status.reason})`);
    } else {
      // Every library found, yet no device: onnxruntime's own reason, with the hint.
      assert(opened.message.includes("on cuda"), opened.message);
    }
    await assertRejects(
      () => openEngine(dir, { device: "cuda", precision: "float16" }),
      SoupError,
      "cuda",
    );
  }));

Deno.test("the real dynamic loader agrees with the setup's record on what is missing", () => {
  const status = cudaStatus();
  if (!status.installed) {
    // The setup has not run here: nothing to load, and the probe says so in one line.
    try {
      probeCuda();
      throw new Error("probeCuda passed without the provider");
    } catch (err) {
      assert(err instanceof SoupError && err.message.includes("setup cuda"), String(err));
    }
    console.log(`  (this machine: ${status.reason})`);
    return;
  }
  const failure = probeCuda();
  console.log(`  (this machine: the loader says ${failure ?? "everything loads"})`);
  if (failure === undefined) {
    assertEquals(status.missing, [], "everything loads, so nothing can be missing");
    return;
  }
  // The loader stops at a library the record lacks: the provider file itself was read.
  assert(
    status.missing.some((m) => failure.includes(m.soname)),
    `the loader's "${failure}" names none of ${status.missing.map((m) => m.soname)}`,
  );
});
