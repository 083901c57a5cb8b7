"""Recurrences over a stack of S independent networks, with backpropagation through time by hand.

Every tensor carries a leading member axis S (S = 1 is a plain single network), so S runs of one
shape advance together with one batched matmul per time step (`torch.baddbmm`) instead of S
small ones. Layout, member-major and time-major within a member:

    x, h          (S, T, B, ·)     proj    (S, T, B, G·H)     W_hh    (S, G·H, H)

`recurrent_layer(kind, x, w_ih, w_hh, b_ih, b_hh)` is the whole layer: one matmul for the input
projections of all T steps, then an autograd Function that runs the loop. It does what a fused
kernel (cuDNN, oneDNN) does and autograd over a Python loop cannot: the forward step also writes
the derivative factors its backward will need (while the step's values are in cache), each
reverse step is one matmul plus one to five elementwise ops, and dL/dW_hh is one large matmul
over all steps (sum_t dG_t^T h_{t-1}) instead of T small ones. Under no_grad only h is kept.

Cells and gate orders are PyTorch's (nn.RNN, nn.LSTM, nn.GRU; see suite.models.gated):

    elman  h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)  [+ h_{t-k} with a residual skip k]
    lstm   i, f, g, o;  c_t = f c_{t-1} + i g,   h_t = o tanh(c_t)
    gru    r, z, n;     n = tanh(W_in x + b_in + r (W_hn h + b_hn)),  h_t = (1 - z) n + z h_{t-1}

tanh is computed as 2 sigmoid(2a) - 1 (within 2e-7 of torch.tanh): on some CPUs torch.tanh goes
through MKL's vector math library, which runs a slow generic path on AMD processors (measured
here: tanh 5-10x slower than sigmoid). The factor 2 is folded into the weights of the rows that
feed a tanh (exact in floating point) before the projection, so the loop pays nothing for it.
"""

from __future__ import annotations

import torch
from torch import Tensor

KINDS = ("tanh", "sigmoid", "relu", "leakyrelu", "prelu", "lstm", "gru")


def _row_scale(kind: str, hidden: int, like: Tensor) -> Tensor | None:
    """Per-row factor of W_ih, W_hh and the biases: 2 on the rows that feed a tanh."""
    if kind == "tanh":
        return like.new_full((hidden,), 2.0)
    if kind == "lstm":  # i, f, g, o: g is the tanh block
        return torch.cat([like.new_ones(2 * hidden), like.new_full((hidden,), 2.0), like.new_ones(hidden)])
    if kind == "gru":  # r, z, n
        return torch.cat([like.new_ones(2 * hidden), like.new_full((hidden,), 2.0)])
    return None


def recurrent_layer(kind: str, x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor,
                    slope: Tensor | None = None, *, skip: int = 0,
                    negative_slope: float = 0.01) -> Tensor:
    """One recurrent layer over a stack of S networks: x (S, T, B, I) -> h (S, T, B, H).

    w_ih (S, G·H, I), w_hh (S, G·H, H), b_ih and b_hh (S, G·H) as nn.RNN/nn.LSTM/nn.GRU lay them
    out; `slope` (S, 1) is PReLU's learned slope; `skip` > 0 adds h_{t-skip} after a tanh cell.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    if skip and kind != "tanh":
        raise ValueError(f"a residual skip needs kind 'tanh', got {kind!r}")
    S, T, B, _ = x.shape
    H = w_hh.shape[-1]
    scale = _row_scale(kind, H, w_hh)
    if kind == "gru":  # columns r, z, n_h, n_x: the recurrent bias b_hn rides along as a column
        zeros = w_ih.new_zeros(S, H, w_ih.shape[-1])
        w_in = torch.cat([w_ih[:, : 2 * H], zeros, w_ih[:, 2 * H :]], dim=1)
        bias = torch.cat([b_ih[:, : 2 * H] + b_hh[:, : 2 * H], b_hh[:, 2 * H :], b_ih[:, 2 * H :]], dim=1)
        col_scale = torch.cat([scale, scale[2 * H :]])
    else:
        w_in, bias, col_scale = w_ih, b_ih + b_hh, scale
    if col_scale is not None:
        w_in, bias, w_hh = w_in * col_scale[:, None], bias * col_scale, w_hh * scale[:, None]
    proj = torch.baddbmm(bias[:, None, :], x.reshape(S, T * B, -1), w_in.transpose(1, 2))
    proj = proj.view(S, T, B, -1)
    train = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (proj, w_hh, slope))
    if kind == "lstm":
        return _LSTM.apply(proj, w_hh, train)
    if kind == "gru":
        return _GRU.apply(proj, w_hh, train)
    return _Elman.apply(proj, w_hh, slope, kind, float(negative_slope), int(skip), train)


def _tanh_scaled_(x: Tensor) -> Tensor:
    """In place: x <- tanh(x / 2), for an argument that already carries the factor 2."""
    return _from_sigmoid_(x.sigmoid_())


def _from_sigmoid_(s: Tensor) -> Tensor:
    """In place: s <- 2 s - 1 in one op (-1 + 2 s: the same rounding as (2 s) - 1, 2 s exact)."""
    return torch.add(s.new_tensor(-1.0), s, alpha=2, out=s)


def _weight_grad(d_gates: Tensor, hs: Tensor) -> Tensor:
    """sum_{t >= 1} d_gates_t^T h_{t-1}, one matmul per member: (S, G·H, H)."""
    S, T, B, H = hs.shape
    if T == 1:
        return hs.new_zeros(S, d_gates.shape[-1], H)
    d = d_gates[:, 1:].reshape(S, (T - 1) * B, -1)
    return torch.bmm(d.transpose(1, 2), hs[:, :-1].reshape(S, (T - 1) * B, H))


def stacked_linear(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """x (S, N, in) @ weight (S, out, in)^T + bias (S, out): S linear layers at once."""
    return _Linear.apply(x, weight, bias)


class _Linear(torch.autograd.Function):
    """A linear layer per member. Autograd's own backward of `baddbmm(b, x, W^T)` forms
    dW^T = x^T dY, a (in x N)(N x out) product with out small (9 classes, 1 value) that MKL runs
    at a fifth of its speed; dW = dY^T x is the same numbers in the fast orientation."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return torch.baddbmm(bias[:, None, :], x, weight.transpose(1, 2))

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        d_x = torch.bmm(grad, weight) if ctx.needs_input_grad[0] else None
        return d_x, torch.bmm(grad.transpose(1, 2), x), grad.sum(dim=1)


#: activations whose derivative is a function of the output, so the loop leaves it for one
#: vectorised pass afterwards: phi' = (1 - h^2) / 2 (tanh, per unit of the doubled argument),
#: h (1 - h), [h > 0]
_DEFERRED = ("tanh", "sigmoid", "relu")


def _elman_deferred(proj: Tensor, w_hh: Tensor, kind: str, out: Tensor, train: bool) -> Tensor | None:
    """The loop of a plain tanh, sigmoid or ReLU cell in two ops a step (one baddbmm, one
    activation); returns dphi/dpre for training (None otherwise), computed after the loop.

    A tanh cell runs on its sigmoid state s_t = sigmoid(pre_t), h_t = 2 s_t - 1 (pre carries the
    factor 2): pre_{t+1} = P_{t+1} + h_t W^T = (P_{t+1} - W 1) + s_t (2 W)^T, so the affine map to
    h is one pass over all steps after the loop instead of two small ops per step. The shifted
    projections are written into `out` itself: each slot is read just before it is overwritten."""
    wt = w_hh.transpose(1, 2)
    if kind == "tanh":
        base = torch.sub(proj, w_hh.sum(dim=2)[:, None, None, :], out=out)
        base[:, 0].copy_(proj[:, 0])  # h_{-1} = 0: nothing to shift at the first step
        wt = wt * 2
    else:
        base = proj
    P, OUT, tmp = base.unbind(1), out.unbind(1), proj.new_empty(out[:, 0].shape)
    if kind == "relu":
        def act(x, out):
            return torch.clamp_min(x, 0.0, out=out)
    else:
        act = torch.sigmoid
    act(P[0], out=OUT[0])
    for t in range(1, len(OUT)):
        act(torch.baddbmm(P[t], OUT[t - 1], wt, out=tmp), out=OUT[t])
    if kind == "tanh":
        _from_sigmoid_(out)
    if not train:
        return None
    if kind == "tanh":
        return torch.addcmul(out.new_tensor(0.5), out, out, value=-0.5)
    if kind == "sigmoid":
        return torch.addcmul(out, out, out, value=-1)
    return (out > 0).to(out.dtype)


def _elman_stepwise(proj, w_hh, slope, kind, negative_slope, skip, out, train):
    """The general loop (leaky ReLU, PReLU, tanh with a residual skip): activation and its
    derivative at each step. Returns (dphi/dpre, min(pre, 0) for PReLU's slope), None where not training."""
    S, T, B, H = proj.shape
    wt = w_hh.transpose(1, 2)
    deriv = proj.new_empty(S, T, B, H) if train else None  # dphi/dpre as passed in
    neg = proj.new_empty(S, T, B, H) if train and kind == "prelu" else None  # min(pre, 0)
    tmp, act_buf = proj.new_empty(S, B, H), proj.new_empty(S, B, H)
    half, one = proj.new_tensor(0.5), proj.new_tensor(1.0)
    slope_t = slope.view(S, 1, 1) if kind == "prelu" else proj.new_tensor(negative_slope)
    h = proj.new_zeros(S, B, H)
    P, HS = proj.unbind(1), out.unbind(1)
    D = deriv.unbind(1) if train else None
    for t in range(T):
        pre = torch.baddbmm(P[t], h, wt, out=tmp)
        act = act_buf if skip else HS[t]
        if kind == "tanh":  # pre carries the factor 2: tanh = 2 sigmoid(pre) - 1
            _from_sigmoid_(torch.sigmoid(pre, out=act))
            if train:
                torch.addcmul(half, act, act, value=-0.5, out=D[t])
        else:  # leakyrelu, prelu: x if x > 0 else slope * x
            positive = pre > 0
            torch.where(positive, pre, pre * slope_t, out=act)
            if train:
                torch.where(positive, one, slope_t, out=D[t])
                if neg is not None:
                    torch.clamp_max(pre, 0.0, out=neg[:, t])
        if skip:
            if t >= skip:
                torch.add(act, HS[t - skip], out=HS[t])
            else:
                HS[t].copy_(act)
        h = HS[t]
    return deriv, neg


class _Elman(torch.autograd.Function):
    @staticmethod
    def forward(ctx, proj, w_hh, slope, kind, negative_slope, skip, train):
        S, T, B, H = proj.shape
        out = proj.new_empty(S, T, B, H)
        if kind in _DEFERRED and not skip:
            deriv = _elman_deferred(proj, w_hh, kind, out, train)
            neg = None
        else:
            deriv, neg = _elman_stepwise(proj, w_hh, slope, kind, negative_slope, skip, out, train)
        if train:
            ctx.skip = skip
            ctx.save_for_backward(w_hh, slope, out, deriv, neg)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        w_hh, slope, out, deriv, neg = ctx.saved_tensors
        skip = ctx.skip
        S, T, B, H = out.shape
        keep_dh = skip or neg is not None
        dh_all = grad_out.clone(memory_format=torch.contiguous_format) if keep_dh else grad_out.contiguous()
        d_pre = torch.empty_like(out)
        tmp = out.new_empty(S, B, H)
        G, D, DP = dh_all.unbind(1), deriv.unbind(1), d_pre.unbind(1)
        for t in range(T - 1, -1, -1):
            if t < T - 1:
                dh = torch.baddbmm(G[t], DP[t + 1], w_hh, out=tmp)
                if keep_dh:
                    G[t].copy_(dh)
            else:
                dh = G[t]
            torch.mul(dh, D[t], out=DP[t])
            if skip and t >= skip:
                G[t - skip].add_(dh)
        d_slope = None
        if neg is not None and ctx.needs_input_grad[2]:
            d_slope = (dh_all * neg).sum(dim=(1, 2, 3)).view_as(slope)
        return d_pre, _weight_grad(d_pre, out), d_slope, None, None, None, None


def _lstm_factors(gates: Tensor, cells: Tensor, tc: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The LSTM's backward factors for all steps at once, from gate values (i, f, g, o after
    their nonlinearities), cells c_t and tanh(c_t): dL/dpre_{i,f,g,o} = dc (F_i, F_f, F_g),
    dh F_o; dc += dh F_c; dc_prev = dc f. Returns (F (S, T, B, 4, H), F_c, f)."""
    S, T, B, H = cells.shape
    i, f, g, o = gates.split(H, dim=-1)
    slopes = torch.addcmul(gates, gates, gates, value=-1)  # s (1 - s) for i, f, o ...
    s_i, s_f, s_g, s_o = slopes.split(H, dim=-1)
    torch.addcmul(gates.new_tensor(0.5), g, g, value=-0.5, out=s_g)  # ... (1 - g^2) / 2 for g
    factors = gates.new_empty(S, T, B, 4, H)
    f_i, f_f, f_g, f_o = factors.unbind(3)
    torch.mul(s_i, g, out=f_i)
    f_f[:, 0].zero_()  # c_{-1} = 0
    torch.mul(s_f[:, 1:], cells[:, :-1], out=f_f[:, 1:])
    torch.mul(s_g, i, out=f_g)
    torch.mul(s_o, tc, out=f_o)
    f_c = torch.addcmul(gates.new_tensor(1.0), tc, tc, value=-1).mul_(o)
    return factors, f_c, f.contiguous()


class _LSTM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, proj, w_hh, train):
        S, T, B, G = proj.shape
        H = G // 4
        wt = w_hh.transpose(1, 2)
        out = proj.new_empty(S, T, B, H)
        # gate values, cells and tanh(cells) for every step when training (the backward factors
        # come from them after the loop), the few steps' worth the loop needs otherwise
        steps = T if train else 1
        gates, tc = proj.new_empty(S, steps, B, G), proj.new_empty(S, steps, B, H)
        cells = proj.new_empty(S, T if train else 2, B, H)
        zeros = proj.new_zeros(S, B, H)
        h, c_prev = zeros, zeros
        P, HS = proj.unbind(1), out.unbind(1)
        for t in range(T):
            gt, c, tanh_c = gates[:, t % steps], cells[:, t % cells.shape[1]], tc[:, t % steps]
            i, f, g, o = gt.split(H, dim=-1)
            torch.baddbmm(P[t], h, wt, out=gt).sigmoid_()
            _from_sigmoid_(g)  # the g rows carry the factor 2: tanh
            torch.mul(f, c_prev, out=c).addcmul_(i, g)
            _tanh_scaled_(torch.mul(c, 2, out=tanh_c))
            h, c_prev = torch.mul(o, tanh_c, out=HS[t]), c
        if train:
            ctx.save_for_backward(w_hh, out, *_lstm_factors(gates, cells, tc))
        return out

    @staticmethod
    def backward(ctx, grad_out):
        w_hh, out, factors, f_c, forget = ctx.saved_tensors
        S, T, B, H = out.shape
        grad_out = grad_out.contiguous()
        d_gates = out.new_empty(S, T, B, 4, H)
        dh_buf, dc_buf, dcf_buf = (out.new_empty(S, B, H) for _ in range(3))
        GO, DG, F, FC, FG = (v.unbind(1) for v in (grad_out, d_gates, factors, f_c, forget))
        dcf = None
        for t in range(T - 1, -1, -1):
            if t < T - 1:
                dh = torch.baddbmm(GO[t], DG[t + 1].view(S, B, 4 * H), w_hh, out=dh_buf)
            else:
                dh = GO[t]
            if dcf is None:
                dc = torch.mul(dh, FC[t], out=dc_buf)
            else:
                dc = torch.addcmul(dcf, dh, FC[t], out=dc_buf)
            torch.mul(dc.unsqueeze(2), F[t][:, :, :3], out=DG[t][:, :, :3])
            torch.mul(dh, F[t][:, :, 3], out=DG[t][:, :, 3])
            dcf = torch.mul(dc, FG[t], out=dcf_buf)
        d_gates = d_gates.view(S, T, B, 4 * H)
        return d_gates, _weight_grad(d_gates, out), None


def _gru_factors(gates: Tensor, cand: Tensor, out: Tensor) -> Tensor:
    """dL/d(proj columns r, z, n_h, n_x) per unit dL/dh_t, for all steps at once: (S, T, B, 4, H).

    With a = W_in x + b_in + r (W_hn h + b_hn) (doubled here) and n = tanh(a):
    dh/d(2a) = (1 - n^2) / 2 (1 - z); n_x: that; n_h: that times r; r: that times
    2 (W_hn h + b_hn) r (1 - r); z: (h_prev - n) z (1 - z)."""
    S, T, B, H = out.shape
    rz, hn = gates[..., : 2 * H], gates[..., 2 * H :]
    r, z = rz[..., :H], rz[..., H:]
    factors = out.new_empty(S, T, B, 4, H)
    f_r, f_z, f_nh, f_nx = factors.unbind(3)
    slopes = torch.addcmul(rz, rz, rz, value=-1)  # r (1 - r), z (1 - z)
    torch.addcmul(out.new_tensor(0.5), cand, cand, value=-0.5, out=f_nx)
    f_nx.addcmul_(f_nx, z, value=-1)
    torch.mul(f_nx, r, out=f_nh)
    torch.mul(f_nx, hn, out=f_r).mul_(slopes[..., :H])
    torch.neg(cand[:, 0], out=f_z[:, 0])  # h_{-1} = 0
    torch.sub(out[:, :-1], cand[:, 1:], out=f_z[:, 1:])
    f_z.mul_(slopes[..., H:])
    return factors


class _GRU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, proj, w_hh, train):
        S, T, B, G4 = proj.shape
        H = G4 // 4
        wt = w_hh.transpose(1, 2)
        out = proj.new_empty(S, T, B, H)
        # per step: r, z (after the sigmoid) and 2 (W_hn h + b_hn) in `gates`, the candidate n in
        # `cand`; kept for every step when training (the derivative factors are computed from
        # them after the loop, in a few passes over all steps), one step's worth otherwise
        steps = T if train else 1
        gates, cand = proj.new_empty(S, steps, B, 3 * H), proj.new_empty(S, steps, B, H)
        h = proj.new_zeros(S, B, H)
        P3, PN, HS = proj[..., : 3 * H].unbind(1), proj[..., 3 * H :].unbind(1), out.unbind(1)
        for t in range(T):
            g, n = gates[:, t % steps], cand[:, t % steps]
            torch.baddbmm(P3[t], h, wt, out=g)
            g[..., : 2 * H].sigmoid_()
            _tanh_scaled_(torch.addcmul(PN[t], g[..., :H], g[..., 2 * H :], out=n))
            h = torch.lerp(n, h, g[..., H : 2 * H], out=HS[t])  # n + z (h_prev - n)
        if train:
            ctx.save_for_backward(w_hh, out, _gru_factors(gates, cand, out), gates)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        w_hh, out, factors, gates = ctx.saved_tensors
        S, T, B, H = out.shape
        update = gates[..., H : 2 * H]
        grad_out = grad_out.contiguous()
        d_proj = out.new_empty(S, T, B, 4, H)
        dh_buf, mix = out.new_empty(S, B, H), out.new_empty(S, B, H)
        GO, DP, F, Z = (v.unbind(1) for v in (grad_out, d_proj, factors, update))
        dh = GO[T - 1]
        for t in range(T - 1, -1, -1):
            if t < T - 1:
                torch.addcmul(GO[t], dh, Z[t + 1], out=mix)
                dh = torch.baddbmm(mix, DP[t + 1].view(S, B, 4 * H)[..., : 3 * H], w_hh, out=dh_buf)
            torch.mul(dh.unsqueeze(2), F[t], out=DP[t])
        d_proj = d_proj.view(S, T, B, 4 * H)
        return d_proj, _weight_grad(d_proj[..., : 3 * H], out), None


__all__ = ["KINDS", "recurrent_layer", "stacked_linear"]
