"""The stacked LSTM and GRU recurrences of suite.engine.kernels, and the step helpers both share.

Layout and conventions as in suite.engine.kernels: every tensor leads with the member axis S,
the rows that feed a tanh carry the factor 2 (tanh(a) = 2 sigmoid(2a) - 1), and each Function
takes the input projections of all steps, `proj` (S, T, B, G·H), with W_hh (S, G·H, H).

The loops keep what the backward needs for every step (gate values, cells, candidates) and the
derivative factors come from them after the loop, in a few passes over all steps: a step of a
small recurrence costs per kernel call, so the loop does only what the recurrence requires
(LSTM: 9 calls a step, GRU: 7). On CPU the same loops run compiled where they can be built
(suite.engine.native: the same calls, so the same numbers); the Python loops here are the reference
and the fallback.
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import native


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
        out = proj.new_empty(S, T, B, H)
        # gate values, cells and tanh(cells) for every step when training (the backward factors
        # come from them after the loop), the few steps' worth the loop needs otherwise
        steps = T if train else 1
        gates, tc = proj.new_empty(S, steps, B, G), proj.new_empty(S, steps, B, H)
        cells = proj.new_empty(S, T if train else 2, B, H)
        native.run("lstm_forward", _lstm_loop, proj, w_hh, out, gates, cells, tc)
        if train:
            ctx.save_for_backward(w_hh, out, *_lstm_factors(gates, cells, tc))
        return out

    @staticmethod
    def backward(ctx, grad_out):
        w_hh, out, factors, f_c, forget = ctx.saved_tensors
        S, T, B, H = out.shape
        grad_out = grad_out.contiguous()
        d_gates = out.new_empty(S, T, B, 4, H)
        native.run("lstm_backward", _lstm_backward_loop, grad_out, w_hh, factors, f_c, forget, d_gates)
        d_gates = d_gates.view(S, T, B, 4 * H)
        return d_gates, _weight_grad(d_gates, out), None


def _lstm_loop(proj, w_hh, out, gates, cells, tc) -> None:
    """The forward steps into out (h), gates, cells and tc (tanh c), each kept for every step or,
    when their time axis is shorter, cyclically."""
    S, T, B, H = out.shape
    wt = w_hh.transpose(1, 2)
    steps, kept_cells = gates.shape[1], cells.shape[1]
    zeros = proj.new_zeros(S, B, H)
    h, c_prev = zeros, zeros
    P, HS = proj.unbind(1), out.unbind(1)
    for t in range(T):
        gt, c, tanh_c = gates[:, t % steps], cells[:, t % kept_cells], tc[:, t % steps]
        i, f, g, o = gt.split(H, dim=-1)
        torch.baddbmm(P[t], h, wt, out=gt).sigmoid_()
        _from_sigmoid_(g)  # the g rows carry the factor 2: tanh
        torch.mul(f, c_prev, out=c).addcmul_(i, g)
        _tanh_scaled_(torch.mul(c, 2, out=tanh_c))
        h, c_prev = torch.mul(o, tanh_c, out=HS[t]), c


def _lstm_backward_loop(grad_out, w_hh, factors, f_c, forget, d_gates) -> None:
    """dL/d(gate pre-activations) into d_gates (S, T, B, 4, H), backwards through the steps."""
    S, T, B, H = grad_out.shape
    dh_buf, dc_buf, dcf_buf = (grad_out.new_empty(S, B, H) for _ in range(3))
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
        out = proj.new_empty(S, T, B, H)
        # per step: r, z (after the sigmoid) and 2 (W_hn h + b_hn) in `gates`, the candidate n in
        # `cand`; kept for every step when training (the derivative factors are computed from
        # them after the loop, in a few passes over all steps), one step's worth otherwise
        steps = T if train else 1
        gates, cand = proj.new_empty(S, steps, B, 3 * H), proj.new_empty(S, steps, B, H)
        native.run("gru_forward", _gru_loop, proj, w_hh, out, gates, cand)
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
        native.run("gru_backward", _gru_backward_loop, grad_out, w_hh, factors, update, d_proj)
        d_proj = d_proj.view(S, T, B, 4 * H)
        return d_proj, _weight_grad(d_proj[..., : 3 * H], out), None


def _gru_loop(proj, w_hh, out, gates, cand) -> None:
    """The forward steps into out (h), gates (r, z, 2 (W_hn h + b_hn)) and cand (n), the last two
    kept for every step or, when their time axis is shorter, cyclically."""
    S, T, B, H = out.shape
    wt = w_hh.transpose(1, 2)
    steps = gates.shape[1]
    h = proj.new_zeros(S, B, H)
    P3, PN, HS = proj[..., : 3 * H].unbind(1), proj[..., 3 * H :].unbind(1), out.unbind(1)
    for t in range(T):
        g, n = gates[:, t % steps], cand[:, t % steps]
        torch.baddbmm(P3[t], h, wt, out=g)
        g[..., : 2 * H].sigmoid_()
        _tanh_scaled_(torch.addcmul(PN[t], g[..., :H], g[..., 2 * H :], out=n))
        h = torch.lerp(n, h, g[..., H : 2 * H], out=HS[t])  # n + z (h_prev - n)


def _gru_backward_loop(grad_out, w_hh, factors, update, d_proj) -> None:
    """dL/d(proj columns) into d_proj (S, T, B, 4, H), backwards through the steps."""
    S, T, B, H = grad_out.shape
    dh_buf, mix = grad_out.new_empty(S, B, H), grad_out.new_empty(S, B, H)
    GO, DP, F, Z = (v.unbind(1) for v in (grad_out, d_proj, factors, update))
    dh = GO[T - 1]
    for t in range(T - 1, -1, -1):
        if t < T - 1:
            torch.addcmul(GO[t], dh, Z[t + 1], out=mix)
            dh = torch.baddbmm(mix, DP[t + 1].view(S, B, 4 * H)[..., : 3 * H], w_hh, out=dh_buf)
        torch.mul(dh.unsqueeze(2), F[t], out=DP[t])
