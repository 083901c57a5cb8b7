"""Recurrences over a stack of S independent networks, with backpropagation through time by hand.

Every tensor carries a leading member axis S (S = 1 is a plain single network), so S runs of one
shape advance together with one batched matmul per time step (`torch.baddbmm`) instead of S
small ones. Layout, member-major and time-major within a member:

    x, h          (S, T, B, ·)     proj    (S, T, B, G·H)     W_hh    (S, G·H, H)

`recurrent_layer(kind, x, w_ih, w_hh, b_ih, b_hh)` is the whole layer: one matmul for the input
projections of all T steps, then an autograd Function that runs the loop. It does what a fused
kernel (cuDNN, oneDNN) does and autograd over a Python loop cannot: each step is as few kernel
calls as the cell allows (a plain tanh/sigmoid/ReLU cell: one matmul and one activation forward,
one matmul and one aten *_backward op in reverse; the LSTM and GRU derive their backward factors
in a few passes over all steps after the loop), and dL/dW_hh is one large matmul over all steps
(sum_t dG_t^T h_{t-1}) instead of T small ones. Under no_grad only h is kept. On CPU the plain,
LSTM and GRU loops run compiled where suite.engine.native can build them (the same calls, so the same
numbers); the Python loops here are the reference and the fallback.

On the sizes a sweep batches the tensors over all steps are tens of MB, so a full pass over one
costs about as much as a hundred small in-cache ops: the loops avoid passes that only rearrange
numbers.

Cells and gate orders are PyTorch's (nn.RNN, nn.LSTM, nn.GRU; see suite.models.gated):

    elman  h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)  [+ h_{t-k} with a residual skip k]
    lstm   i, f, g, o;  c_t = f c_{t-1} + i g,   h_t = o tanh(c_t)
    gru    r, z, n;     n = tanh(W_in x + b_in + r (W_hn h + b_hn)),  h_t = (1 - z) n + z h_{t-1}

tanh is computed as 2 sigmoid(2a) - 1 (within 2e-7 of torch.tanh): on some CPUs torch.tanh goes
through MKL's vector math library, which runs a slow generic path on AMD processors (measured
here: tanh 5-10x slower than sigmoid). The factor 2 is folded into the weights of the rows that
feed a tanh (exact in floating point) before the projection, or into baddbmm's alpha and beta
(the plain tanh cell), so the loop pays nothing for it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import native
from .gated_kernels import _GRU, _LSTM, _from_sigmoid_, _weight_grad

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
    plain = kind in _PLAIN and not skip
    scale = None if plain else _row_scale(kind, H, w_hh)
    if kind == "gru":  # columns r, z, n_h, n_x: the recurrent bias b_hn rides along as a column
        zeros = w_ih.new_zeros(S, H, w_ih.shape[-1])
        w_in = torch.cat([w_ih[:, : 2 * H], zeros, w_ih[:, 2 * H :]], dim=1)
        bias = torch.cat([b_ih[:, : 2 * H] + b_hh[:, : 2 * H], b_hh[:, 2 * H :], b_ih[:, 2 * H :]], dim=1)
        col_scale = torch.cat([scale, scale[2 * H :]])
    else:
        w_in, bias, col_scale = w_ih, b_ih + b_hh, scale
    if plain and kind == "tanh":  # _Elman runs the tanh loop on s = (h + 1) / 2 (see _plain_loop):
        bias = bias - w_hh.sum(dim=2).detach()  # a value shift only, so no gradient flows here
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


#: cells whose loop is one baddbmm and one activation a step, with the activation's derivative
#: recomputed in the backward from the output (an aten *_backward op), so no tensor of
#: derivatives is written and read back: on the sizes a sweep batches (S x B x H x T floats,
#: tens of MB) every such full pass costs more than the small ops it saves
_PLAIN = ("tanh", "sigmoid", "relu")


def _plain_loop(proj: Tensor, w_hh: Tensor, kind: str, out: Tensor) -> None:
    """h_t = phi(P_t + h_{t-1} W^T) for tanh, sigmoid and ReLU, into `out`.

    tanh runs on its sigmoid state s = (h + 1) / 2, as tanh(a) = 2 sigmoid(2 a) - 1 (torch.tanh is
    several times slower than sigmoid on CPUs where it goes through MKL's vector library):
    a_t = P_t + (2 s_{t-1} - 1) W^T = (P_t - W 1) + s_{t-1} (2 W)^T, so with `proj` already holding
    P - W 1 (recurrent_layer shifts the bias) a step is baddbmm(beta = 2, alpha = 2) into 2 a_t, a
    sigmoid, and turning the previous step's s into h while it is still in cache. s_{-1} = 1/2
    stands for h_{-1} = 0."""
    S, T, B, H = out.shape
    P, OUT, pre = proj.unbind(1), out.unbind(1), proj.new_empty(S, B, H)
    if kind == "tanh":
        w2 = (w_hh * 2).transpose(1, 2)
        state = proj.new_full((S, B, H), 0.5)
        for t in range(T):
            torch.sigmoid(torch.baddbmm(P[t], state, w2, beta=2, alpha=2, out=pre), out=OUT[t])
            if t:
                _from_sigmoid_(OUT[t - 1])
            state = OUT[t]
        _from_sigmoid_(OUT[T - 1])
        return
    wt = w_hh.transpose(1, 2)
    act = torch.sigmoid if kind == "sigmoid" else _relu_out
    act(P[0], out=OUT[0])
    for t in range(1, T):
        act(torch.baddbmm(P[t], OUT[t - 1], wt, out=pre), out=OUT[t])


def _relu_out(x: Tensor, out: Tensor) -> Tensor:
    return torch.clamp_min(x, 0.0, out=out)


def _plain_backward(kind: str, dh: Tensor, h: Tensor, out: Tensor) -> Tensor:
    """out <- dL/da from dL/dh and h = phi(a), in one op."""
    if kind == "tanh":
        return torch.ops.aten.tanh_backward.grad_input(dh, h, grad_input=out)
    if kind == "sigmoid":
        return torch.ops.aten.sigmoid_backward.grad_input(dh, h, grad_input=out)
    return torch.ops.aten.threshold_backward.grad_input(dh, h, 0.0, grad_input=out)


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
        deriv = neg = None
        if kind in _PLAIN and not skip:
            compiled = native.loops(proj)
            if compiled is not None:  # _plain_loop, compiled
                compiled.plain_forward(proj, w_hh, native.PLAIN_KINDS[kind], out, native.chunks())
            else:
                _plain_loop(proj, w_hh, kind, out)
        else:
            deriv, neg = _elman_stepwise(proj, w_hh, slope, kind, negative_slope, skip, out, train)
        if train:
            ctx.skip, ctx.kind = skip, kind
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
        compiled = native.loops(out) if deriv is None else None
        if compiled is not None:  # a plain cell: the loop below, compiled
            compiled.plain_backward(dh_all, w_hh, out, native.PLAIN_KINDS[ctx.kind], d_pre, native.chunks())
            return d_pre, _weight_grad(d_pre, out), None, None, None, None, None
        tmp = out.new_empty(S, B, H)
        G, DP, HS = dh_all.unbind(1), d_pre.unbind(1), out.unbind(1)
        D = deriv.unbind(1) if deriv is not None else None
        for t in range(T - 1, -1, -1):
            if t < T - 1:
                dh = torch.baddbmm(G[t], DP[t + 1], w_hh, out=tmp)
                if keep_dh:
                    G[t].copy_(dh)
            else:
                dh = G[t]
            if D is None:
                _plain_backward(ctx.kind, dh, HS[t], DP[t])
            else:
                torch.mul(dh, D[t], out=DP[t])
            if skip and t >= skip:
                G[t - skip].add_(dh)
        d_slope = None
        if neg is not None and ctx.needs_input_grad[2]:
            d_slope = (dh_all * neg).sum(dim=(1, 2, 3)).view_as(slope)
        return d_pre, _weight_grad(d_pre, out), d_slope, None, None, None, None


__all__ = ["KINDS", "recurrent_layer", "stacked_linear"]
