"""Writes testdata/hf/: parity fixtures made with Hugging Face transformers' own MambaForCausalLM.

For each case (random configs built with transformers' MambaConfig and saved with
save_pretrained, plus the project's organism):
  config.json, model.safetensors   the checkpoint as transformers saved it (random cases only)
  fixture.json                     model folder, prefill ids, decode ids, dtype, description
  logits.npy (T, V)                logits at every prefill position (one forward from the zero state)
  conv.npy (L, d_in, K), ssm.npy (L, d_in, n)   the cache after the prefill
  decay.npy (L, d_in)              the sum of delta over the prefill (from x_proj's output in a hook)
  decode_logits.npy (S, V), decode_conv.npy (S, L, d_in, K), decode_ssm.npy (S, L, d_in, n)
                                   after each further token fed alone on the cache (greedy tokens)
and exchange/ (the organism): a state folder written by `soup extract` continued by transformers,
and a state folder written by soup_hf.py from transformers' cache with transformers' continuation.

    python tools/hf/make_fixtures.py            # needs deno (DENO, or npx -y deno@2.9.6) for exchange/
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import transformers
from transformers import MambaConfig, MambaForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parent))
import soup_hf as hf  # noqa: E402

PROJECT = hf.PROJECT
TOOL = "tools/hf/make_fixtures.py"

# Random checkpoints: transformers' MambaConfig fields. Each row varies what the engines must get right.
CASES = [
    dict(name="l1-h24-n16-k4-rank5", desc="1 layer, state_size 16, conv_kernel 4, time_step_rank 5 (not 24/16)",
         cfg=dict(num_hidden_layers=1, hidden_size=24, state_size=16, conv_kernel=4, time_step_rank=5, vocab_size=97),
         dtype="float32", T=7, S=3),
    dict(name="l2-h13-n7-k3-noconvbias", desc="2 layers, odd hidden 13, state_size 7, conv_kernel 3, no conv bias",
         cfg=dict(num_hidden_layers=2, hidden_size=13, state_size=7, conv_kernel=3, use_conv_bias=False,
                  time_step_rank=3, vocab_size=61),
         dtype="float32", T=7, S=3),
    dict(name="l3-h20-n5-k2-bias-untied", desc="3 layers, in/out_proj biases, untied lm_head, conv_kernel 2, state_size 5",
         cfg=dict(num_hidden_layers=3, hidden_size=20, state_size=5, conv_kernel=2, use_bias=True,
                  tie_word_embeddings=False, time_step_rank=4, vocab_size=128),
         dtype="float32", T=7, S=3),
    dict(name="l4-h32-n16-k4-f16", desc="4 layers, saved in float16 (computed in float32 after upcasting)",
         cfg=dict(num_hidden_layers=4, hidden_size=32, state_size=16, conv_kernel=4, time_step_rank=7, vocab_size=211),
         dtype="float16", T=7, S=3),
    dict(name="l2-h8-vocab50280-bf16", desc="2 layers, Mamba's vocabulary 50280, saved in bfloat16",
         cfg=dict(num_hidden_layers=2, hidden_size=8, state_size=16, conv_kernel=4, time_step_rank=1, vocab_size=50280),
         dtype="bfloat16", T=4, S=2),
]

ORGANISM_TEXT = "<|endoftext|>Q: big\nA:"
EXCHANGE = {
    # A state written by `soup extract`, then a prompt transformers continues from it.
    "soup_text": "<|endoftext|>Q: hot\nA: cold\n\nQ: up\nA: down\n\n",
    "soup_prompt": "Q: big\nA:",
    # A state transformers reads (saved by soup_hf.py), then a prompt both continue from it.
    "hf_text": "<|endoftext|>Q: wet\nA: dry\n\nQ: fast\nA: slow\n\n",
    "hf_prompt": "Q: old\nA:",
    "max_tokens": 4,
}


def randomize(model: MambaForCausalLM, seed: int) -> None:
    """Draws every parameter at a scale that makes all parts of the block matter (transformers'
    own init leaves A, D and the norms at constants and the logits nearly flat)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            shape = p.shape
            if name.endswith("A_log"):
                v = torch.log(torch.rand(shape, generator=g) * 7.5 + 0.5)
            elif name.endswith("mixer.D"):
                v = 1 + 0.5 * torch.randn(shape, generator=g)
            elif name.endswith("dt_proj.bias"):
                dt = torch.exp(torch.rand(shape, generator=g) * (math.log(0.5) - math.log(0.005)) + math.log(0.005))
                v = dt + torch.log(-torch.expm1(-dt))  # softplus^-1
            elif "norm" in name:
                v = 1 + 0.2 * torch.randn(shape, generator=g)
            elif name.endswith("conv1d.weight"):
                v = 0.5 * torch.randn(shape, generator=g)
            elif name.endswith("bias"):
                v = 0.2 * torch.randn(shape, generator=g)
            elif "embeddings" in name:
                v = torch.randn(shape, generator=g)
            else:  # in_proj, x_proj, dt_proj.weight, out_proj, lm_head: fan-in scaled
                v = torch.randn(shape, generator=g) / math.sqrt(shape[-1])
            p.copy_(v)


def save(dir: Path, name: str, a: np.ndarray) -> None:
    np.save(dir / name, np.ascontiguousarray(a, dtype=np.float32))


def run_case(out: Path, model: MambaForCausalLM, prefill_ids: list[int], steps: int, limit: int) -> dict:
    """Prefill in one forward, then `steps` greedy tokens fed one at a time, states after each."""
    logits, cache, decay = hf.prefill(model, prefill_ids)
    conv, ssm = hf.cache_states(model, cache)
    save(out, "logits.npy", logits)
    save(out, "conv.npy", conv)
    save(out, "ssm.npy", ssm)
    save(out, "decay.npy", decay)
    decode_ids, dl, dc, dsm = [], [], [], []
    last = logits[-1]
    for _ in range(steps):
        t = hf.greedy(last, limit)
        decode_ids.append(t)
        last = hf.step(model, cache, t)
        c, s = hf.cache_states(model, cache)
        dl.append(last)
        dc.append(c)
        dsm.append(s)
    save(out, "decode_logits.npy", np.stack(dl))
    save(out, "decode_conv.npy", np.stack(dc))
    save(out, "decode_ssm.npy", np.stack(dsm))
    return {"prefillIds": prefill_ids, "decodeIds": decode_ids}


def deno() -> list[str]:
    return os.environ.get("DENO", "npx -y deno@2.9.6").split()


def main() -> int:
    p = argparse.ArgumentParser(description="Write the transformers parity fixtures")
    p.add_argument("--out", default=str(PROJECT / "testdata" / "hf"))
    a = p.parse_args()
    out = Path(a.out)
    if out.exists():
        mine = out / "meta.json"
        if not (mine.is_file() and json.loads(mine.read_text()).get("tool") == TOOL):
            print(f"make_fixtures.py: refusing to replace {out}: it was not written by this tool", file=sys.stderr)
            return 1
        shutil.rmtree(out)
    out.mkdir(parents=True)
    torch.set_num_threads(1)  # deterministic reductions
    torch.set_grad_enabled(False)
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(hf.tokenizer_file()))
    limit = tok.get_vocab_size(with_added_tokens=True)
    cases = []
    for i, c in enumerate(CASES):
        d = out / c["name"]
        cfg = MambaConfig(**c["cfg"])
        torch.manual_seed(100 + i)
        model = MambaForCausalLM(cfg)
        randomize(model, seed=100 + i)
        dtype = getattr(torch, c["dtype"])
        model.to(dtype).save_pretrained(d)
        (d / "generation_config.json").unlink(missing_ok=True)
        model = hf.load_model(str(d))  # what was saved, upcast to float32
        rng = np.random.default_rng(7 + i)
        ids = [int(x) for x in rng.integers(0, cfg.vocab_size, c["T"])]
        rec = run_case(d, model, ids, c["S"], cfg.vocab_size)
        fx = {"model": ".", "description": c["desc"], "savedDtype": c["dtype"], **rec}
        (d / "fixture.json").write_text(json.dumps(fx, indent=2) + "\n")
        cases.append(c["name"])
        print(f"{c['name']}: {len(ids)} + {c['S']} tokens")

    # The organism, as the project ships it.
    d = out / "organism"
    d.mkdir()
    model = hf.load_model("organism")
    ids = tok.encode(ORGANISM_TEXT, add_special_tokens=False).ids
    rec = run_case(d, model, ids, 3, limit)
    fx = {"model": "../../../data/models/organism", "description": "the project's organism (F16 + F32 weights)",
          "savedDtype": "float16+float32", "text": ORGANISM_TEXT, **rec}
    (d / "fixture.json").write_text(json.dumps(fx, indent=2) + "\n")
    cases.append("organism")
    print(f"organism: {len(ids)} + 3 tokens")

    # Exchange both ways on the organism.
    ex = out / "exchange"
    ex.mkdir()
    soup_state = ex / "soup_state"
    subprocess.run([*deno(), "task", "soup", "extract", "--model", "organism", "--device", "cpu",
                    "--text", EXCHANGE["soup_text"].replace("\n", "\\n"), "--out", str(soup_state)],
                   cwd=PROJECT, check=True)
    cache, _ = hf.load_state(model, soup_state)
    prompt = tok.encode(EXCHANGE["soup_prompt"], add_special_tokens=False).ids
    produced, lg = hf.continue_from(model, cache, prompt, EXCHANGE["max_tokens"], limit)
    save(ex, "soup_state_continuation_logits.npy", lg[len(prompt) - 1:])

    hf_ids = tok.encode(EXCHANGE["hf_text"], add_special_tokens=False).ids
    logits, hcache, decay = hf.prefill(model, hf_ids)
    conv, ssm = hf.cache_states(model, hcache)
    hf.save_state(ex / "hf_state", model_name="organism", model=model, conv=conv, ssm=ssm, delta_sum=decay,
                  logits=logits[-1], ids=hf_ids, text=EXCHANGE["hf_text"])
    hf_prompt = tok.encode(EXCHANGE["hf_prompt"], add_special_tokens=False).ids
    hf_produced, hlg = hf.continue_from(model, hcache, hf_prompt, EXCHANGE["max_tokens"], limit)
    save(ex, "hf_state_continuation_logits.npy", hlg[len(hf_prompt) - 1:])
    (ex / "fixture.json").write_text(json.dumps({
        "model": "organism",
        "vocabLimit": limit,
        "soupState": {"text": EXCHANGE["soup_text"], "prompt": EXCHANGE["soup_prompt"], "promptIds": prompt,
                      "generatedIds": produced, "generatedText": tok.decode(produced, skip_special_tokens=False)},
        "hfState": {"text": EXCHANGE["hf_text"], "ids": hf_ids, "prompt": EXCHANGE["hf_prompt"],
                    "promptIds": hf_prompt, "generatedIds": hf_produced,
                    "generatedText": tok.decode(hf_produced, skip_special_tokens=False)},
    }, indent=2) + "\n")
    print(f"exchange: soup state -> transformers {produced}; transformers state -> {hf_produced}")

    (out / "meta.json").write_text(json.dumps({
        "tool": TOOL,
        "command": "python tools/hf/make_fixtures.py",
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "device": "cpu, float32, 1 thread",
        "cases": cases,
        "note": "transformers ran its reference PyTorch paths (no causal_conv1d or mamba_ssm kernels)",
    }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
