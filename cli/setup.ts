/**
 * `deno task setup cuda`: installs onnxruntime-node's CUDA provider from PyPI's `onnxruntime-gpu`
 * wheel of the same version (downloaded with pip, checked by its pinned sha256, unpacked beside
 * the binding), finds the CUDA 13 libraries it needs and records where (`soup-cuda.json`), so
 * that `--device cuda` and `auto` use it with no environment variables. Every missing piece is
 * one line naming the library and the command that brings it. See `lib/onnx/cuda.ts`.
 *
 * @module
 */
import {
  bindingDir,
  CUDA_LIBRARIES,
  type CudaRecord,
  cudaSearchDirs,
  cudaStatus,
  findCudaLibraries,
  ORT_GPU_WHEELS,
  ORT_VERSION,
  PROVIDER_FILES,
  recordPath,
} from "../lib/onnx/cuda.ts";
import { SoupError } from "../lib/util/errors.ts";
import { type Command, opts, runCommands, str, usage } from "./_cli.ts";

/** `--lib-dir A,B` and `--python P,Q` as lists. */
const list = (v: string | undefined) => (v ?? "").split(",").map((s) => s.trim()).filter(Boolean);

/** The wheel's sha256, hex. */
async function sha256(path: string): Promise<string> {
  const bytes = await Deno.readFile(path);
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Runs a command, its output shown; throws one line when it cannot run or fails. */
async function run(cmd: string, args: string[], what: string, fix: string): Promise<void> {
  let status;
  try {
    status = await new Deno.Command(cmd, { args, stdout: "inherit", stderr: "inherit" }).output();
  } catch {
    throw new SoupError(`Cannot ${what}: "${cmd}" is not installed (${fix})`);
  }
  if (!status.success) throw new SoupError(`Cannot ${what}: ${cmd} ${args[0]} failed (${fix})`);
}

/** The wheel: `--wheel FILE`, or downloaded with pip into a temporary folder. */
async function wheelFile(given: string | undefined, python: string, tmp: string): Promise<string> {
  const pinned = ORT_GPU_WHEELS[ORT_VERSION];
  if (given !== undefined) return given;
  await run(
    python,
    [
      "-m",
      "pip",
      "download",
      `onnxruntime-gpu==${ORT_VERSION}`,
      "--no-deps",
      "--only-binary=:all:",
      "--python-version",
      "3.11",
      "--platform",
      "manylinux_2_28_x86_64",
      "--dest",
      tmp,
    ],
    "download the onnxruntime-gpu wheel",
    `apt-get install python3-pip, or give --wheel FILE`,
  );
  return `${tmp}/${pinned.file}`;
}

/** Copies `files` of the wheel into `dir`, each written under a temporary name then renamed. */
async function unpack(wheel: string, files: readonly string[], dir: string, python: string) {
  const script = "import sys, zipfile, shutil\n" +
    "z = zipfile.ZipFile(sys.argv[1])\n" +
    "for name in sys.argv[3:]:\n" +
    "    tmp = f'{sys.argv[2]}/{name}.tmp-setup'\n" +
    "    with z.open(f'onnxruntime/capi/{name}') as src, open(tmp, 'wb') as dst:\n" +
    "        shutil.copyfileobj(src, dst, 1 << 22)\n";
  await run(python, ["-c", script, wheel, dir, ...files], "unpack the wheel", "a broken wheel?");
  for (const f of files) await Deno.rename(`${dir}/${f}.tmp-setup`, `${dir}/${f}`);
}

const COMMANDS: readonly Command[] = [{
  name: "cuda",
  synopsis: "[--python python3,...] [--lib-dir DIR,...] [--wheel FILE]",
  help: `Install onnxruntime-node ${ORT_VERSION}'s CUDA provider from PyPI's onnxruntime-gpu wheel
(pip download, sha256 checked), find the CUDA 13 libraries it needs (--lib-dir folders,
LD_LIBRARY_PATH, the loader's cache, /usr/local/cuda, the site-packages of each --python, where
pip's nvidia-* wheels and PyTorch's CUDA libraries are) and record where. Exit code 0 when
--device cuda can be tried, 1 when something is missing (each missing piece is one line).`,
  options: opts("python lib-dir wheel"),
  run: async (f) => {
    const pythons = list(str(f, "python"));
    const python = pythons[0] ?? "python3";
    const pinned = ORT_GPU_WHEELS[ORT_VERSION];
    if (pinned === undefined) {
      throw new SoupError(`No onnxruntime-gpu wheel is pinned for onnxruntime-node ${ORT_VERSION}`);
    }
    const dir = bindingDir();
    const tmp = await Deno.makeTempDir({ prefix: "soup-setup-cuda-" });
    try {
      if (!PROVIDER_FILES.every((p) => exists(`${dir}/${p}`)) || str(f, "wheel") !== undefined) {
        const wheel = await wheelFile(str(f, "wheel"), python, tmp);
        const got = await sha256(wheel).catch(() => {
          throw new SoupError(`Cannot read the wheel "${wheel}"`);
        });
        if (got !== pinned.sha256) {
          throw new SoupError(
            `The wheel "${wheel}" has sha256 ${got}, not the pinned ${pinned.sha256} of ` +
              `${pinned.file}: refusing to install it`,
          );
        }
        await unpack(wheel, PROVIDER_FILES, dir, python);
        console.log(`installed the CUDA provider of ${pinned.file} into ${dir}`);
      } else {
        console.log(`the CUDA provider is already in ${dir}`);
      }
      const searched = await cudaSearchDirs({
        extra: list(str(f, "lib-dir")),
        pythons: pythons.length > 0 ? pythons : ["python3"],
      });
      const libraries = findCudaLibraries(searched);
      const record: CudaRecord = {
        onnxruntime: ORT_VERSION,
        wheel: pinned,
        libraries,
        searched,
        created: new Date().toISOString(),
      };
      await Deno.writeTextFile(`${recordPath(dir)}.tmp`, JSON.stringify(record, null, 2) + "\n");
      await Deno.rename(`${recordPath(dir)}.tmp`, recordPath(dir));
      for (const lib of CUDA_LIBRARIES) {
        const at = libraries[lib.soname];
        console.log(at ? `found ${lib.soname} at ${at}` : `missing ${lib.soname}: ${lib.fix}`);
      }
      const status = cudaStatus(dir);
      console.log(
        status.ready
          ? `--device cuda can be tried: ${status.reason}`
          : `--device cuda cannot run here yet: ${status.missing.length} of the libraries above ` +
            `are missing`,
      );
      return status.ready ? 0 : 1;
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
}];

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

const USAGE = usage("Usage: deno task setup <what> [options]", COMMANDS, "");

/** Runs `setup`; returns the exit code. */
export function main(args: string[]): Promise<number> {
  return runCommands("setup", COMMANDS, USAGE, args);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
