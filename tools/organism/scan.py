"""Mamba-1's selective scan for training on the CPU: a JAX custom VJP whose backward pass is one
reverse scan over the stored states (about 3x faster on 2 cores than differentiating lax.scan)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _forward(dt, u, Bm, Cm, A):
    """dt, u: (B, L, D); Bm, Cm: (B, L, N); A: (D, N). Returns y (B, L, D) and every state
    h_t as (L, B, N, D)."""
    At = A.T  # (N, D)
    tm = lambda a: jnp.swapaxes(a, 0, 1)

    def step(h, inp):
        dt_t, u_t, b_t, c_t = inp
        h = jnp.exp(dt_t[:, None, :] * At) * h + (dt_t * u_t)[:, None, :] * b_t[:, :, None]
        return h, (jnp.sum(h * c_t[:, :, None], axis=1), h)

    h0 = jnp.zeros((dt.shape[0], A.shape[1], A.shape[0]), dt.dtype)
    _, (ys, hs) = jax.lax.scan(step, h0, (tm(dt), tm(u), tm(Bm), tm(Cm)), unroll=8)
    return tm(ys), hs


@jax.custom_vjp
def selective_scan(dt, u, Bm, Cm, A):
    """y_t = C_t . h_t with h_t = exp(dt_t A) h_{t-1} + dt_t u_t B_t, from h_0 = 0 (no D term)."""
    return _forward(dt, u, Bm, Cm, A)[0]


def _fwd(dt, u, Bm, Cm, A):
    y, hs = _forward(dt, u, Bm, Cm, A)
    return y, (dt, u, Bm, Cm, A, hs)


def _bwd(res, dy):
    dt, u, Bm, Cm, A, hs = res
    At = A.T
    tm = lambda a: jnp.swapaxes(a, 0, 1)
    h_prev = jnp.concatenate([jnp.zeros_like(hs[:1]), hs[:-1]], axis=0)

    def step(carry, inp):
        ga, dAt = carry  # ga = a_{t+1} * g_{t+1}
        dt_t, u_t, b_t, c_t, dy_t, h_t, hp_t = inp
        a_t = jnp.exp(dt_t[:, None, :] * At)
        g = dy_t[:, None, :] * c_t[:, :, None] + ga  # dL/dh_t (B, N, D)
        dc = jnp.sum(dy_t[:, None, :] * h_t, axis=2)
        gb = jnp.sum(g * b_t[:, :, None], axis=1)  # dL/d(dt u)
        db = jnp.sum(g * (dt_t * u_t)[:, None, :], axis=2)
        gah = g * hp_t * a_t  # dL/d(dt A) elementwise
        ddt = jnp.sum(gah * At, axis=1) + gb * u_t
        du = gb * dt_t
        dAt = dAt + jnp.sum(gah * dt_t[:, None, :], axis=0)
        return (g * a_t, dAt), (ddt, du, db, dc)

    B_, N, D = hs.shape[1], A.shape[1], A.shape[0]
    init = (jnp.zeros((B_, N, D), dt.dtype), jnp.zeros((N, D), dt.dtype))
    xs = (tm(dt), tm(u), tm(Bm), tm(Cm), tm(dy), hs, h_prev)
    (_, dAt), (ddt, du, db, dc) = jax.lax.scan(step, init, xs, reverse=True, unroll=8)
    return tm(ddt), tm(du), tm(db), tm(dc), dAt.T


selective_scan.defvjp(_fwd, _bwd)
