"""Moves Mamba states between this project's state folders and Hugging Face transformers.

A state folder (written by `deno task soup extract`) holds conv.npy (L, d_in, K), ssm.npy
(L, d_in, n), delta_sum.npy (L, d_in: the sum of the step sizes delta over the tokens read),
logits.npy (V) and meta.json. transformers' `MambaForCausalLM` keeps the same two states per
layer in its cache: `cache.layers[i].conv_states[0]` (1, d_in, K), the last K inputs of the
causal convolution, oldest first, and `cache.layers[i].recurrent_states[0]` (1, d_in, n).

Command line (a tool beside the TypeScript project; the library never imports it):

    python tools/hf/soup_hf.py continue --model DIR --state STATE_DIR --text "..." [--max-tokens 32]
        Loads the state into transformers' cache and continues greedily, as
        `deno task soup generate --model DIR --from STATE_DIR --text "..."` does.
    python tools/hf/soup_hf.py extract --model DIR --text "..." --out STATE_DIR
        Reads the text with transformers from the zero state and saves its cache as a state
        folder that `soup generate --from`, `soup mix`, `soup retrieve` ... accept.

transformers continues from a loaded cache one token at a time: in transformers 5.24 a forward
of several tokens on a cache that already holds a state restarts the selective scan from zero
(its sequence path has no initial state), so the prompt after a state is fed token by token,
exactly as `generate` feeds tokens.
"""

from __future__ import annotations

import argparse
import decimal
import hashlib
import json
import math
import os
import re
import shutil
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from transformers import DynamicCache, MambaForCausalLM

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent.parent
BUNDLED = {"organism": PROJECT / "data" / "models" / "organism"}


class UsageError(Exception):
    """A problem with the input, reported as one line."""


def resolve_model(model: str) -> Path:
    """A checkpoint folder, or a model bundled with the project ("organism")."""
    path = BUNDLED.get(model, Path(model))
    if not (path / "config.json").is_file():
        raise UsageError(f'Cannot load model "{model}": {path}/config.json does not exist')
    return path


def load_model(model: str) -> MambaForCausalLM:
    """transformers' own Mamba, weights upcast to float32 (as this project computes)."""
    m = MambaForCausalLM.from_pretrained(resolve_model(model), dtype=torch.float32)
    m.eval()
    return m


def tokenizer_file(explicit: str | None = None) -> Path:
    """GPT-NeoX's tokenizer.json: --tokenizer, else $SOUP_MIRROR or ../shared/data beside the project."""
    if explicit:
        return Path(explicit)
    mirror = Path(os.environ.get("SOUP_MIRROR", PROJECT.parent / "shared" / "data"))
    return mirror / "tokenizer" / "gpt-neox-20b" / "tokenizer.json"


def _js_number(x: float | int | bool) -> str:
    """A number as JavaScript's JSON.stringify writes it (shortest round trip, JS exponent rules)."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    if x == int(x) and abs(x) < 1e21:
        return str(int(x))
    r = repr(float(x))  # shortest round-trip digits, as in JavaScript
    if 1e-6 <= abs(x) < 1e21:  # JavaScript's rule: exponent notation below 1e-6
        return format(decimal.Decimal(r), "f")
    mantissa, exp = r.split("e")
    e = int(exp)
    return f"{mantissa}e{'+' if e > 0 else '-'}{abs(e)}"


def soup_config(config) -> dict:
    """The project's MambaConfig fields, from transformers' resolved config."""
    return {
        "modelType": "mamba",
        "hiddenSize": config.hidden_size,
        "intermediateSize": config.intermediate_size,
        "stateSize": config.state_size,
        "convKernel": config.conv_kernel,
        "timeStepRank": config.time_step_rank,
        "numHiddenLayers": config.num_hidden_layers,
        "vocabSize": config.vocab_size,
        "layerNormEpsilon": config.layer_norm_epsilon,
        "useConvBias": config.use_conv_bias,
        "useBias": config.use_bias,
        "tieWordEmbeddings": config.tie_word_embeddings,
    }


def config_hash(config) -> str:
    """The project's configHash: sha256 of the sorted [key, value] pairs as JSON, 16 hex digits."""
    fields = soup_config(config)
    pairs = []
    for k in sorted(fields):
        v = fields[k]
        pairs.append(f"[{json.dumps(k)},{json.dumps(v) if isinstance(v, str) else _js_number(v)}]")
    return hashlib.sha256(f"[{','.join(pairs)}]".encode()).hexdigest()[:16]


def weights_fingerprint(folder: str | Path) -> str:
    """The project's weightsFingerprint: per safetensors file (sorted by name) its size and the
    sha256 of its first and last MiB, joined by newlines, hashed; 16 hex digits."""
    parts = []
    for f in sorted(Path(folder).glob("*.safetensors")):
        size = f.stat().st_size
        span = min(size, 1 << 20)
        with open(f, "rb") as fh:
            head = fh.read(span)
            fh.seek(size - span)
            tail = fh.read(span)
        parts.append(f"{f.name}:{size}:{hashlib.sha256(head).hexdigest()}:{hashlib.sha256(tail).hexdigest()}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def state_shape(config) -> dict:
    return {
        "layers": config.num_hidden_layers,
        "dInner": config.intermediate_size,
        "convKernel": config.conv_kernel,
        "stateSize": config.state_size,
        "vocab": config.vocab_size,
    }


class DeltaSum:
    """Sums the step sizes delta = softplus(dt_proj(x_proj(.)[:rank])) per layer over the tokens
    transformers reads while active (a forward hook on each mixer's x_proj)."""

    def __init__(self, model: MambaForCausalLM):
        self.model = model
        cfg = model.config
        self.sum = torch.zeros(cfg.num_hidden_layers, cfg.intermediate_size, dtype=torch.float64)
        self.handles = []

    def __enter__(self):
        for i, layer in enumerate(self.model.backbone.layers):
            mixer = layer.mixer

            def hook(_module, _inputs, output, i=i, mixer=mixer):
                ts = output[..., : mixer.time_step_rank]  # (1, l, rank)
                dt = ts @ mixer.dt_proj.weight.T
                if mixer.dt_proj.bias is not None:
                    dt = dt + mixer.dt_proj.bias
                self.sum[i] += torch.nn.functional.softplus(dt.double())[0].sum(0)

            self.handles.append(mixer.x_proj.register_forward_hook(hook))
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()


def cache_states(model: MambaForCausalLM, cache) -> tuple[np.ndarray, np.ndarray]:
    """conv (L, d_in, K) and ssm (L, d_in, n) of batch row 0 of transformers' cache."""
    n = model.config.num_hidden_layers
    conv = np.stack([cache.layers[i].conv_states[0][0].float().numpy() for i in range(n)])
    ssm = np.stack([cache.layers[i].recurrent_states[0][0].float().numpy() for i in range(n)])
    return conv.astype(np.float32), ssm.astype(np.float32)


def cache_from_arrays(model: MambaForCausalLM, conv: np.ndarray, ssm: np.ndarray) -> DynamicCache:
    """A transformers cache holding the given states (batch 1)."""
    cfg = model.config
    cache = DynamicCache(config=cfg)
    for i in range(cfg.num_hidden_layers):
        layer = cache.layers[i]
        layer.update_conv_state(torch.from_numpy(conv[i][None].copy()), 0, conv_kernel_size=cfg.conv_kernel)
        layer.update_recurrent_state(torch.from_numpy(ssm[i][None].copy()), 0)
    return cache


def _load_npy(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    try:
        a = np.load(path)
    except FileNotFoundError:
        raise UsageError(f"Cannot read state: {path} does not exist") from None
    except ValueError as e:
        raise UsageError(f"Cannot read state: {path} is not a NumPy file ({e})") from None
    if a.dtype != np.float32 or a.shape != shape:
        raise UsageError(f"Cannot read state: {path} holds {a.dtype} {a.shape}, expected float32 {shape}")
    return a


def load_state(model: MambaForCausalLM, folder: str | Path) -> tuple[DynamicCache, dict]:
    """Reads a state folder into a transformers cache; refuses a state of another architecture,
    or of other weights of the same shape when the folder records a fingerprint."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except FileNotFoundError:
        raise UsageError(f"Cannot read state {folder}: it has no meta.json") from None
    except json.JSONDecodeError as e:
        raise UsageError(f"Cannot read state {folder}/meta.json: malformed JSON ({e})") from None
    cfg = model.config
    if meta.get("shape") != state_shape(cfg) or meta.get("configHash") != config_hash(cfg):
        raise UsageError(
            f"Cannot use state {folder}: it belongs to model {meta.get('model')!r} "
            f"(config {meta.get('configHash')}, shape {meta.get('shape')}), not to this model "
            f"(config {config_hash(cfg)}, shape {state_shape(cfg)})"
        )
    source = Path(getattr(model, "name_or_path", "") or ".")
    if meta.get("weightsFingerprint") and (source / "config.json").is_file():
        mine = weights_fingerprint(source)
        if meta["weightsFingerprint"] != mine:
            raise UsageError(
                f"Cannot use state {folder}: it was made with other weights (fingerprint "
                f"{meta['weightsFingerprint']}) than this model's ({mine}), though of the same shape"
            )
    L, d, k, n = cfg.num_hidden_layers, cfg.intermediate_size, cfg.conv_kernel, cfg.state_size
    conv = _load_npy(folder / "conv.npy", (L, d, k))
    ssm = _load_npy(folder / "ssm.npy", (L, d, n))
    return cache_from_arrays(model, conv, ssm), meta


@torch.no_grad()
def prefill(model: MambaForCausalLM, ids: list[int]):
    """Reads ids from the zero state in one forward: logits (T, V), the cache, the delta sum (L, d_in)."""
    with DeltaSum(model) as ds:
        out = model(torch.tensor([ids]), use_cache=True)
    return out.logits[0].float().numpy(), out.cache, ds.sum.numpy()


@torch.no_grad()
def step(model: MambaForCausalLM, cache, token: int) -> np.ndarray:
    """Feeds one token on the cache (updated in place) and returns the logits (V) after it."""
    out = model(torch.tensor([[token]]), cache=cache, use_cache=True)
    return out.logits[0, -1].float().numpy()


def greedy(logits: np.ndarray, limit: int) -> int:
    return int(np.argmax(logits[:limit]))


def continue_from(model, cache, prompt: list[int], max_tokens: int, limit: int, stop: int | None = 0):
    """Feeds the prompt one token at a time on `cache`, then generates greedily.
    Returns (generated ids, logits (len(prompt) + len(generated), V) after every token fed, except
    after the last generated one, exactly the logits each choice was made from plus the prompt's)."""
    if not prompt:
        raise UsageError("Cannot continue: the prompt has no tokens")
    logits = []
    for t in prompt:
        logits.append(step(model, cache, t))
    produced = []
    for _ in range(max_tokens):
        nxt = greedy(logits[-1], limit)
        produced.append(nxt)
        if nxt == stop or len(produced) == max_tokens:
            break
        logits.append(step(model, cache, nxt))
    return produced, np.stack(logits)


def save_state(folder: str | Path, *, model_name: str, model, conv, ssm, delta_sum, logits, ids, text=None):
    """Writes a state folder (refusing an existing path), into a temporary folder renamed into place."""
    folder = Path(folder)
    if folder.exists():
        raise UsageError(f"Refusing to write {folder}: it already exists")
    cfg = model.config
    tmp = folder.parent / f"{folder.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        np.save(tmp / "conv.npy", np.ascontiguousarray(conv, dtype=np.float32))
        np.save(tmp / "ssm.npy", np.ascontiguousarray(ssm, dtype=np.float32))
        np.save(tmp / "delta_sum.npy", np.ascontiguousarray(delta_sum, dtype=np.float32))
        np.save(tmp / "logits.npy", np.ascontiguousarray(logits, dtype=np.float32))
        meta = {
            "model": model_name,
            "configHash": config_hash(cfg),
            "weightsFingerprint": weights_fingerprint(resolve_model(model_name)),
            "shape": state_shape(cfg),
            "tokenIds": [int(i) for i in ids],
            **({"text": text} if text is not None else {}),
            "source": None,
            "engine": f"transformers-{__import__('transformers').__version__}-torch-{torch.__version__}-cpu",
            "created": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def unescape(text: str) -> str:
    """--text escapes exactly as `soup` reads them: \\n, \\t and \\\\ (nothing else)."""
    return re.sub(r"\\(n|t|\\)", lambda m: {"n": "\n", "t": "\t", "\\": "\\"}[m.group(1)], text)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="soup_hf.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("continue", help="load a state folder into transformers and continue greedily")
    c.add_argument("--model", required=True)
    c.add_argument("--state", required=True)
    c.add_argument("--text", required=True)
    c.add_argument("--max-tokens", type=int, default=32)
    c.add_argument("--tokenizer")
    c.add_argument("--ids", action="store_true", help="also print the generated ids")
    e = sub.add_parser("extract", help="read text with transformers and save its cache as a state folder")
    e.add_argument("--model", required=True)
    e.add_argument("--text", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--tokenizer")
    a = p.parse_args(argv)
    from tokenizers import Tokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # not the reference-kernel fallback notes on every call
    hf_logging.disable_progress_bar()

    tok_path = tokenizer_file(a.tokenizer)
    if not tok_path.is_file():
        raise UsageError(f"Cannot read the tokenizer: {tok_path} does not exist (set SOUP_MIRROR or --tokenizer)")
    tok = Tokenizer.from_file(str(tok_path))
    text = unescape(a.text)
    ids = tok.encode(text, add_special_tokens=False).ids
    if not ids:
        raise UsageError(f"--text {a.text!r} has no tokens")
    torch.set_grad_enabled(False)
    model = load_model(a.model)
    if a.command == "continue":
        if a.max_tokens < 0:
            raise UsageError("--max-tokens must be >= 0")
        cache, _ = load_state(model, a.state)
        limit = tok.get_vocab_size(with_added_tokens=True)
        produced, _ = continue_from(model, cache, ids, a.max_tokens, limit, stop=0)
        print(tok.decode(produced, skip_special_tokens=False))
        if a.ids:
            print(",".join(map(str, produced)))
    else:
        logits, cache, delta_sum = prefill(model, ids)
        conv, ssm = cache_states(model, cache)
        save_state(a.out, model_name=a.model, model=model, conv=conv, ssm=ssm, delta_sum=delta_sum,
                   logits=logits[-1], ids=ids, text=text)
        print(f"Read {len(ids)} tokens with transformers; state saved to {a.out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except UsageError as err:
        print(f"soup_hf.py: {err}", file=sys.stderr)
        sys.exit(1)
