#!/usr/bin/env python3
"""Independent NumPy (float64) reference for Hugging Face MambaForCausalLM (Mamba-1).

Follows the transformers `MambaMixer.slow_forward` path. Only dependency: numpy.

  python3 tests/reference/mamba_numpy.py --model DIR (--ids 1,2,3 | --ids-npy ids.npy)
      [--conv conv.npy --ssm ssm.npy] [--step] --out OUTDIR
  python3 tests/reference/mamba_numpy.py --self-test

Writes to OUTDIR (all float64): logits.npy [l, vocab], conv.npy [n_layer, d_in, K],
ssm.npy [n_layer, d_in, n], decay.npy [n_layer, d_in] (sum of delta over processed tokens).
"""
import argparse, json, math, os, struct, sys, tempfile
import numpy as np

# ---------------------------------------------------------------- safetensors I/O
_DT = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2"}


def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n])
    base, out = 8 + n, {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _DT:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {info['dtype']}")
        b, e = info["data_offsets"]
        raw = np.frombuffer(buf[base + b:base + e], dtype=_DT[info["dtype"]])
        if info["dtype"] == "BF16":  # bf16 -> f32: uint16 goes to the high half of a uint32
            raw = (raw.astype(np.uint32) << 16).view(np.float32)
        out[name] = raw.astype(np.float64).reshape(info["shape"])
    return out


def write_safetensors(path, tensors, dtypes=None):
    """Minimal writer (used by the self-test). dtypes: {name: 'F32'|'F16'|'BF16'}."""
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, arr in tensors.items():
        dt = (dtypes or {}).get(name, "F32")
        a32 = np.ascontiguousarray(arr, dtype=np.float32)
        data = ((a32.view(np.uint32) >> 16).astype("<u2") if dt == "BF16" else a32.astype(_DT[dt])).tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data); off += len(data)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


# ---------------------------------------------------------------- checkpoint loading
def load_model(d):
    with open(os.path.join(d, "config.json")) as f:
        c = json.load(f)
    if c.get("model_type", "mamba") != "mamba":
        raise ValueError(f"model_type {c.get('model_type')!r} is not 'mamba'")
    if c.get("hidden_act", "silu") != "silu":
        raise ValueError("only hidden_act=silu is supported")
    hid = c["hidden_size"]
    r = c.get("time_step_rank", "auto")
    cfg = dict(d=hid, d_in=c.get("intermediate_size", c.get("expand", 2) * hid), n=c.get("state_size", 16),
               K=c.get("conv_kernel", 4), r=math.ceil(hid / 16) if r == "auto" else int(r),
               n_layer=c["num_hidden_layers"], vocab=c["vocab_size"], eps=c.get("layer_norm_epsilon", 1e-5),
               conv_bias=c.get("use_conv_bias", True), bias=c.get("use_bias", False),
               tied=c.get("tie_word_embeddings", True))
    single, index = os.path.join(d, "model.safetensors"), os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(single):
        w = read_safetensors(single)
    elif os.path.exists(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        w = {}
        for s in shards:
            w.update(read_safetensors(os.path.join(d, s)))
    else:
        raise FileNotFoundError(f"{d}: neither model.safetensors nor model.safetensors.index.json")
    return cfg, check_weights(cfg, w)


def check_weights(cfg, w):
    d, di, n, K, r, V = cfg["d"], cfg["d_in"], cfg["n"], cfg["K"], cfg["r"], cfg["vocab"]
    want = {"backbone.embeddings.weight": (V, d), "backbone.norm_f.weight": (d,)}
    if not cfg["tied"]:
        want["lm_head.weight"] = (V, d)
    for i in range(cfg["n_layer"]):
        p = f"backbone.layers.{i}."
        want.update({p + "norm.weight": (d,), p + "mixer.in_proj.weight": (2 * di, d),
                     p + "mixer.conv1d.weight": (di, 1, K), p + "mixer.x_proj.weight": (r + 2 * n, di),
                     p + "mixer.dt_proj.weight": (di, r), p + "mixer.dt_proj.bias": (di,),
                     p + "mixer.A_log": (di, n), p + "mixer.D": (di,), p + "mixer.out_proj.weight": (d, di)})
        if cfg["conv_bias"]:
            want[p + "mixer.conv1d.bias"] = (di,)
        if cfg["bias"]:
            want.update({p + "mixer.in_proj.bias": (2 * di,), p + "mixer.out_proj.bias": (d,)})
    for k, s in want.items():
        if k not in w:
            raise KeyError(f"missing tensor {k}")
        if tuple(w[k].shape) != s:
            raise ValueError(f"tensor {k}: shape {tuple(w[k].shape)}, expected {s}")
    return w


# ---------------------------------------------------------------- model
def rmsnorm(x, weight, eps):  # MambaRMSNorm: x / sqrt(mean(x^2) + eps) * weight
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def silu(x):
    return x / (1.0 + np.exp(-x))


def softplus(x):
    return np.logaddexp(0.0, x)


def mixer(cfg, w, i, u, conv, ssm, step):
    """One MambaMixer over u [l, d]. conv [d_in, K], ssm [d_in, n] are updated in place.
    Returns (out [l, d], per-token delta [l, d_in])."""
    p, di, n, r = f"backbone.layers.{i}.mixer.", cfg["d_in"], cfg["n"], cfg["r"]
    # 1. in_proj, split into hidden_states x (first d_in channels) and gate z
    xz = u @ w[p + "in_proj.weight"].T + (w[p + "in_proj.bias"] if cfg["bias"] else 0.0)
    x, z = xz[:, :di], xz[:, di:]
    # 2. causal depthwise conv1d; left context = conv state (last K pre-conv inputs, newest last)
    cw = w[p + "conv1d.weight"][:, 0, :]  # [d_in, K]
    cb = w[p + "conv1d.bias"] if cfg["conv_bias"] else 0.0
    l, K = x.shape[0], cfg["K"]
    xc = np.empty_like(x)
    if step:  # HF decode: roll left, write newest input last, dot with the whole window
        for t in range(l):
            conv[:] = np.roll(conv, -1, axis=-1)
            conv[:, -1] = x[t]
            xc[t] = np.sum(conv * cw, axis=-1) + cb
    else:  # HF prefill: conv1d(padding=K-1)[..., :l], with the state instead of zero padding
        xs = np.concatenate([conv.T, x], axis=0)  # [K + l, d_in]; row K + t is x[t]
        for t in range(l):
            xc[t] = np.sum(xs[t + 1:t + 1 + K].T * cw, axis=-1) + cb
        conv[:] = xs[-K:].T
    x = silu(xc)
    # 3.a x_proj -> (time_step, B, C); delta = softplus(dt_proj(time_step) + bias)
    ssm_p = x @ w[p + "x_proj.weight"].T
    dt, B, C = ssm_p[:, :r], ssm_p[:, r:r + n], ssm_p[:, r + n:]
    delta = softplus(dt @ w[p + "dt_proj.weight"].T + w[p + "dt_proj.bias"])  # [l, d_in]
    # 3.b discretization: A = -exp(A_log); dA = exp(delta*A); dB*u = delta*B*x
    A = -np.exp(w[p + "A_log"])
    # 3.c recurrence: h_t = dA_t * h_{t-1} + dB_t x_t; y_t = h_t . C_t + D x_t
    y = np.empty_like(x)
    for t in range(l):
        ssm[:] = np.exp(delta[t][:, None] * A) * ssm + (delta[t] * x[t])[:, None] * B[t][None, :]
        y[t] = ssm @ C[t]
    y = (y + x * w[p + "D"]) * silu(z)  # D skip, then gate with silu(z)
    # 4. out_proj
    out = y @ w[p + "out_proj.weight"].T + (w[p + "out_proj.bias"] if cfg["bias"] else 0.0)
    return out, delta


def forward(cfg, w, ids, conv0=None, ssm0=None, step=False, deltas=None):
    """Returns logits [l, V], conv [L, d_in, K], ssm [L, d_in, n], decay [L, d_in] (float64).
    step=True feeds one token at a time through the whole stack (HF decoding with a cache).
    If deltas is a list, per-layer per-token deltas [l, d_in] are appended to it."""
    L, di, n, K, V = cfg["n_layer"], cfg["d_in"], cfg["n"], cfg["K"], cfg["vocab"]
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if ids.size == 0 or ids.min() < 0 or ids.max() >= V:
        raise ValueError(f"ids must be non-empty and in [0, {V})")
    conv = np.zeros((L, di, K)) if conv0 is None else np.array(conv0, dtype=np.float64)
    ssm = np.zeros((L, di, n)) if ssm0 is None else np.array(ssm0, dtype=np.float64)
    if conv.shape != (L, di, K):
        raise ValueError(f"conv state shape {conv.shape}, expected {(L, di, K)}")
    if ssm.shape != (L, di, n):
        raise ValueError(f"ssm state shape {ssm.shape}, expected {(L, di, n)}")
    decay = np.zeros((L, di))
    lm_head = w["backbone.embeddings.weight"] if cfg["tied"] else w["lm_head.weight"]
    chunks = [ids[t:t + 1] for t in range(ids.size)] if step else [ids]
    per_layer = [[] for _ in range(L)]
    logits = []
    for chunk in chunks:
        h = w["backbone.embeddings.weight"][chunk]  # embeddings
        for i in range(L):  # MambaBlock: residual + mixer(norm(h))
            x = rmsnorm(h, w[f"backbone.layers.{i}.norm.weight"], cfg["eps"])
            out, delta = mixer(cfg, w, i, x, conv[i], ssm[i], step)
            h = h + out
            decay[i] += delta.sum(axis=0)
            per_layer[i].append(delta)
        logits.append(rmsnorm(h, w["backbone.norm_f.weight"], cfg["eps"]) @ lm_head.T)  # norm_f, lm_head
    if deltas is not None:
        deltas.extend(np.concatenate(d, axis=0) for d in per_layer)
    return np.concatenate(logits, axis=0), conv, ssm, decay


# ---------------------------------------------------------------- self-test
def _random_checkpoint(dirpath, rng, n_layer=2, sharded=True):
    d, di, n, K, r, V = 8, 16, 4, 4, "auto", 13
    cfg = dict(model_type="mamba", hidden_size=d, intermediate_size=di, state_size=n, conv_kernel=K,
               time_step_rank=r, num_hidden_layers=n_layer, vocab_size=V, layer_norm_epsilon=1e-5,
               use_conv_bias=True, use_bias=True, tie_word_embeddings=not sharded, hidden_act="silu")
    rk = math.ceil(d / 16)
    g = lambda *s: rng.standard_normal(s) * 0.5
    w = {"backbone.embeddings.weight": g(V, d), "backbone.norm_f.weight": 1 + 0.1 * g(d)}
    if sharded:
        w["lm_head.weight"] = g(V, d)
    for i in range(n_layer):
        p = f"backbone.layers.{i}."
        w.update({p + "norm.weight": 1 + 0.1 * g(d), p + "mixer.in_proj.weight": g(2 * di, d),
                  p + "mixer.in_proj.bias": g(2 * di), p + "mixer.conv1d.weight": g(di, 1, K),
                  p + "mixer.conv1d.bias": g(di), p + "mixer.x_proj.weight": g(rk + 2 * n, di),
                  p + "mixer.dt_proj.weight": g(di, rk), p + "mixer.dt_proj.bias": g(di) - 1,
                  p + "mixer.A_log": np.log(np.tile(np.arange(1, n + 1, dtype=float), (di, 1))),
                  p + "mixer.D": g(di), p + "mixer.out_proj.weight": g(d, di), p + "mixer.out_proj.bias": g(d)})
    with open(os.path.join(dirpath, "config.json"), "w") as f:
        json.dump(cfg, f)
    if not sharded:
        write_safetensors(os.path.join(dirpath, "model.safetensors"), w)
        return w
    names = sorted(w)
    halves = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    dts = {k: ("BF16" if j % 3 == 0 else "F16" if j % 3 == 1 else "F32") for j, k in enumerate(names)}
    for fn, ks in halves.items():
        write_safetensors(os.path.join(dirpath, fn), {k: w[k] for k in ks}, dts)
    with open(os.path.join(dirpath, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": {k: fn for fn, ks in halves.items() for k in ks}}, f)
    return w


def self_test():
    rng, ok = np.random.default_rng(0), True

    def check(name, a, b, tol=1e-10):
        nonlocal ok
        err = float(np.max(np.abs(np.asarray(a) - np.asarray(b)) / (1 + np.abs(np.asarray(b)))))
        good = err <= tol
        ok &= good
        print(f"{'PASS' if good else 'FAIL'} {name} (max rel err {err:.2e})")

    for sharded in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            w0 = _random_checkpoint(tmp, rng, sharded=sharded)
            cfg, w = load_model(tmp)
        tag = "sharded/bf16/f16/untied" if sharded else "single/f32/tied"
        check(f"[{tag}] loaded weights == written (bf16 rounding)", np.concatenate(
            [w[k].ravel() for k in sorted(w0)]), np.concatenate([w0[k].ravel() for k in sorted(w0)]), 8e-3)
        ids = rng.integers(0, cfg["vocab"], size=11)
        par = forward(cfg, w, ids)
        deltas = []
        stp = forward(cfg, w, ids, step=True, deltas=deltas)
        for nm, a, b in zip(("logits", "conv", "ssm", "decay"), par, stp):
            check(f"[{tag}] parallel == step: {nm}", a, b)
        a = forward(cfg, w, ids[:5])
        b = forward(cfg, w, ids[5:], conv0=a[1], ssm0=a[2])
        check(f"[{tag}] split 5+6 == all: logits", np.concatenate([a[0], b[0]]), par[0])
        for nm, j in (("conv", 1), ("ssm", 2)):
            check(f"[{tag}] split 5+6 == all: {nm}", b[j], par[j])
        check(f"[{tag}] split 5+6 == all: decay", a[3] + b[3], par[3])
        bs = forward(cfg, w, ids[5:], conv0=a[1], ssm0=a[2], step=True)
        check(f"[{tag}] split, second part step mode: logits", bs[0], par[0][5:])
        check(f"[{tag}] conv state == last K pre-conv inputs (zeros-padded when l<K)",
              forward(cfg, w, ids[:2])[1][:, :, :2], 0.0)  # oldest columns stay zero
        p0, K = "backbone.layers.0.", cfg["K"]  # layer 0's pre-conv x is in_proj(norm(embed)) x-half
        x0 = rmsnorm(w["backbone.embeddings.weight"][ids[-K:]], w[p0 + "norm.weight"], cfg["eps"]) @ \
            w[p0 + "mixer.in_proj.weight"][:cfg["d_in"]].T + w[p0 + "mixer.in_proj.bias"][:cfg["d_in"]]
        check(f"[{tag}] layer 0 conv state == last K pre-conv inputs, oldest first", par[1][0], x0.T)
        for i in range(cfg["n_layer"]):
            A = -np.exp(w[f"backbone.layers.{i}.mixer.A_log"])
            prod = np.prod(np.exp(deltas[i][:, :, None] * A[None]), axis=0)
            check(f"[{tag}] layer {i}: exp(A*sum delta) == prod exp(delta_t*A)",
                  np.exp(A * par[3][i][:, None]), prod)
    print("self-test", "OK" if ok else "FAILED")
    return 0 if ok else 1


# ---------------------------------------------------------------- CLI
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model"); ap.add_argument("--ids"); ap.add_argument("--ids-npy")
    ap.add_argument("--conv"); ap.add_argument("--ssm"); ap.add_argument("--out")
    ap.add_argument("--step", action="store_true", help="feed tokens one at a time (HF cached decoding)")
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args(argv)
    if a.self_test:
        return self_test()
    if not a.model or not a.out or (a.ids is None) == (a.ids_npy is None):
        ap.error("need --model, --out and exactly one of --ids / --ids-npy")
    if (a.conv is None) != (a.ssm is None):
        ap.error("--conv and --ssm must be given together")
    ids = np.load(a.ids_npy) if a.ids_npy else np.array([int(s) for s in a.ids.split(",") if s.strip()])
    if not np.issubdtype(np.asarray(ids).dtype, np.integer):
        raise ValueError("ids must be integers")
    cfg, w = load_model(a.model)
    conv0 = np.load(a.conv) if a.conv else None
    ssm0 = np.load(a.ssm) if a.ssm else None
    logits, conv, ssm, decay = forward(cfg, w, ids, conv0, ssm0, step=a.step)
    os.makedirs(a.out, exist_ok=True)
    for nm, arr in (("logits", logits), ("conv", conv), ("ssm", ssm), ("decay", decay)):
        np.save(os.path.join(a.out, nm + ".npy"), arr.astype(np.float64))
    return 0


if __name__ == "__main__":
    sys.exit(main())
