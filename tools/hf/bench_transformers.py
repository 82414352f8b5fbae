"""Times transformers' MambaForCausalLM (torch eager, float32, CPU) for bench/transformers.ts.

    python tools/hf/bench_transformers.py --model DIR --threads 2 --shapes 1x256,8x256 --decode-steps 32

Prints one JSON object on stdout: versions, median seconds per prefill shape (one forward of
batch x length ids, logits of the last position only, cache on), median seconds per decode step
(one token on the cache), and the last logits of prompt 0 at the first shape for the caller's
parity check. The prompts are the ones bench/transformers.ts uses: id (s*131 + t*7919) % 50277.

    python tools/hf/bench_transformers.py --model DIR --threads 2 --serve

loads the model once and then answers one JSON line per request line on stdin, so that the
caller can alternate it with its own timings: {"op": "info"} (versions), {"op": "prefill",
"shape": "8x256"} (seconds of one prefill), {"op": "decode", "steps": 32} (median seconds per
step after one warm-up step) and {"op": "logits", "shape": "1x256"} (last logits of prompt 0).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time

import numpy as np
import torch
import transformers
from transformers import MambaForCausalLM


def prompts(batch: int, length: int) -> torch.Tensor:
    return torch.tensor([[(s * 131 + t * 7919) % 50277 for t in range(length)] for s in range(batch)])


def median_seconds(fn, repeat: int, sync=lambda: None) -> float:
    fn()  # warm-up
    sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def prefill_once(model, ids, sync) -> float:
    sync()
    t0 = time.perf_counter()
    model(ids, use_cache=True, logits_to_keep=1)
    sync()
    return time.perf_counter() - t0


def decode_median(model, device, steps: int, sync) -> float:
    """Median seconds of one-token steps on the cache of a 256-token prompt (first step warms up)."""
    out = model(prompts(1, 256).to(device), use_cache=True, logits_to_keep=1)
    cache = out.cache
    token = torch.tensor([[int(out.logits[0, -1].argmax())]], device=device)
    times = []
    for i in range(steps + 1):
        sync()
        t0 = time.perf_counter()
        step = model(token, cache=cache, use_cache=True)
        sync()
        if i > 0:
            times.append(time.perf_counter() - t0)
        token = step.logits[:, -1:].argmax(-1)
    return statistics.median(times)


def serve(model, device, sync, info) -> int:
    for line in sys.stdin:
        req = json.loads(line)
        if req["op"] == "info":
            ans = info
        elif req["op"] == "prefill":
            b, l = map(int, req["shape"].split("x"))
            ans = {"seconds": prefill_once(model, prompts(b, l).to(device), sync)}
        elif req["op"] == "decode":
            ans = {"seconds": decode_median(model, device, int(req["steps"]), sync)}
        elif req["op"] == "logits":
            b, l = map(int, req["shape"].split("x"))
            logits = model(prompts(b, l).to(device), use_cache=True, logits_to_keep=1).logits
            ans = {"logits": logits[0, -1].cpu().numpy().astype(np.float64).tolist()}
        else:
            ans = {"error": f"unknown op {req['op']}"}
        sys.stdout.write(json.dumps(ans) + "\n")
        sys.stdout.flush()
    return 0


@torch.no_grad()
def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--shapes", default="1x256,8x256")
    p.add_argument("--decode-steps", type=int, default=32)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--serve", action="store_true", help="answer requests on stdin (see above)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    model = MambaForCausalLM.from_pretrained(a.model, dtype=torch.float32).to(device)
    model.eval()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    result = {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "device": str(device) + (f" ({torch.cuda.get_device_name()})" if device.type == "cuda" else ""),
        "prefill": {},
    }
    if a.serve:
        return serve(model, device, sync, {k: v for k, v in result.items() if k != "prefill"})
    first = None
    for shape in a.shapes.split(","):
        b, l = map(int, shape.split("x"))
        ids = prompts(b, l).to(device)
        seconds = median_seconds(lambda: model(ids, use_cache=True, logits_to_keep=1), a.repeat, sync)
        result["prefill"][shape] = seconds
        print(f"transformers prefill {shape}: {seconds:.3f} s", file=sys.stderr)
        if first is None:
            first = model(ids, use_cache=True, logits_to_keep=1).logits[0, -1].cpu().numpy()
    # Decode: one token at a time on the cache of a 256-token prompt, batch 1.
    out = model(prompts(1, 256).to(device), use_cache=True, logits_to_keep=1)
    cache = out.cache
    token = torch.tensor([[int(out.logits[0, -1].argmax())]], device=device)
    times = []
    for i in range(a.decode_steps + 1):
        sync()
        t0 = time.perf_counter()
        step = model(token, cache=cache, use_cache=True)
        sync()
        dt = time.perf_counter() - t0
        if i > 0:  # the first step warms up
            times.append(dt)
        token = step.logits[:, -1:].argmax(-1)
    result["decode_step"] = statistics.median(times)
    print(f"transformers decode step: {result['decode_step'] * 1000:.1f} ms", file=sys.stderr)
    result["first_logits"] = np.asarray(first, dtype=np.float64).tolist()
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
