// The time loops of suite.engine.kernels and suite.engine.gated_kernels, compiled (see native.py).
//
// Each loop is the same sequence of ATen calls as its Python twin (_plain_loop, _Elman.backward,
// _LSTM, _GRU), so it gives the same numbers; what it changes is where the time goes. A step of a
// small recurrence is a handful of kernel calls on a few thousand numbers each, and from Python
// every call also pays the interpreter (a few microseconds), and every one but the matmul runs on
// one thread (ATen splits work only above 32,768 elements). Here the calls cost only their
// dispatch, and the rows are split into `chunks` independent parts that run the whole loop side
// by side, one OpenMP thread each: slices of the batch with every member (the rows of a
// recurrence never mix; dL/dW_hh, which sums over rows, is formed after the loop, outside). Inside a chunk every call runs on its thread alone, matmuls
// included, so a loop forks threads once rather than at every step.
//
// Layout as in suite/engine/kernels.py: (S, T, B, ·) with the member axis S first, gate blocks
// in PyTorch's orders, rows that feed a tanh doubled (tanh(a) = 2 sigmoid(2a) - 1).

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <functional>
#include <vector>

using at::Tensor;

namespace {

enum Plain : int64_t { kTanh = 0, kSigmoid = 1, kRelu = 2 };

// Runs body(part) for `chunks` parts of the rows, in parallel: slices of the batch axis (2) of
// every tensor in `rows`, each with every member, while `weights` (S, ·, ·) are shared. Never a
// split by member: a member's numbers would then depend on how many members share its chunk
// (MKL's batched product rounds a lone matrix differently), whereas under MKL's strict
// reproducibility (suite/__init__.py) a row's numbers do not depend on the other rows. A batch of
// fewer rows than chunks runs in one part.
void split_rows(int64_t chunks, std::vector<Tensor> rows, std::vector<Tensor> weights,
                const std::function<void(std::vector<Tensor>&, std::vector<Tensor>&)>& body) {
  const int64_t batch = rows[0].size(2);
  if (chunks <= 1 || batch < chunks) {
    at::NoGradGuard no_grad;
    body(rows, weights);
    return;
  }
  at::parallel_for(0, chunks, 1, [&](int64_t first, int64_t last) {
    at::NoGradGuard no_grad;  // grad mode is per thread; the autograd Function owns the gradients
    for (int64_t c = first; c < last; ++c) {
      const int64_t lo = batch * c / chunks, hi = batch * (c + 1) / chunks;
      std::vector<Tensor> r;
      for (const auto& t : rows) r.push_back(t.slice(2, lo, hi));
      std::vector<Tensor> w(weights);
      body(r, w);
    }
  });
}

// s <- 2 s - 1, as -1 + 2 s (suite.engine.gated_kernels._from_sigmoid_)
void from_sigmoid_(Tensor& s, const Tensor& minus_one) { at::add_out(s, minus_one, s, 2); }

Tensor minus_one_like(const Tensor& t) { return at::scalar_tensor(-1.0, t.options()); }

// -- plain Elman cells: tanh, sigmoid, ReLU ------------------------------------------------------

void plain_forward_chunk(const Tensor& proj, const Tensor& w_hh, int64_t kind, Tensor& out) {
  const int64_t S = out.size(0), T = out.size(1), B = out.size(2), H = out.size(3);
  Tensor pre = at::empty({S, B, H}, out.options());
  if (kind == kTanh) {  // on the sigmoid state s = (h + 1) / 2; proj holds P - W 1
    const Tensor w2 = (w_hh * 2).transpose(1, 2), minus_one = minus_one_like(out);
    Tensor state = at::full({S, B, H}, 0.5, out.options());
    for (int64_t t = 0; t < T; ++t) {
      Tensor h = out.select(1, t);
      at::baddbmm_out(pre, proj.select(1, t), state, w2, 2, 2);
      at::sigmoid_out(h, pre);
      if (t) {
        Tensor previous = out.select(1, t - 1);
        from_sigmoid_(previous, minus_one);
      }
      state = h;
    }
    Tensor last = out.select(1, T - 1);
    from_sigmoid_(last, minus_one);
    return;
  }
  const Tensor wt = w_hh.transpose(1, 2);
  auto act = [kind](Tensor& result, const Tensor& x) {
    if (kind == kSigmoid) at::sigmoid_out(result, x);
    else at::clamp_min_out(result, x, 0.0);
  };
  Tensor first = out.select(1, 0);
  act(first, proj.select(1, 0));
  for (int64_t t = 1; t < T; ++t) {
    Tensor h = out.select(1, t);
    act(h, at::baddbmm_out(pre, proj.select(1, t), out.select(1, t - 1), wt));
  }
}

void plain_forward(const Tensor& proj, const Tensor& w_hh, int64_t kind, Tensor out, int64_t chunks) {
  split_rows(chunks, {proj, out}, {w_hh}, [kind](std::vector<Tensor>& r, std::vector<Tensor>& w) {
    plain_forward_chunk(r[0], w[0], kind, r[1]);
  });
}

void plain_backward_chunk(const Tensor& grad, const Tensor& w_hh, const Tensor& out, int64_t kind, Tensor& d_pre) {
  const int64_t T = out.size(1);
  Tensor tmp = at::empty({out.size(0), out.size(2), out.size(3)}, out.options());
  for (int64_t t = T - 1; t >= 0; --t) {
    Tensor dh = t < T - 1 ? at::baddbmm_out(tmp, grad.select(1, t), d_pre.select(1, t + 1), w_hh)
                          : grad.select(1, t);
    Tensor dp = d_pre.select(1, t), h = out.select(1, t);
    if (kind == kTanh) at::tanh_backward_out(dp, dh, h);
    else if (kind == kSigmoid) at::sigmoid_backward_out(dp, dh, h);
    else at::threshold_backward_out(dp, dh, h, 0.0);
  }
}

void plain_backward(const Tensor& grad, const Tensor& w_hh, const Tensor& out, int64_t kind, Tensor d_pre,
                    int64_t chunks) {
  split_rows(chunks, {grad, out, d_pre}, {w_hh}, [kind](std::vector<Tensor>& r, std::vector<Tensor>& w) {
    plain_backward_chunk(r[0], w[0], r[1], kind, r[2]);
  });
}

// -- LSTM: gates i, f, g, o ------------------------------------------------------------------

void lstm_forward_chunk(const Tensor& proj, const Tensor& w_hh, Tensor& out, Tensor& gates, Tensor& cells,
                        Tensor& tc) {
  const int64_t S = out.size(0), T = out.size(1), B = out.size(2), H = out.size(3);
  const int64_t steps = gates.size(1), kept_cells = cells.size(1);
  const Tensor wt = w_hh.transpose(1, 2), minus_one = minus_one_like(out);
  const Tensor two = at::scalar_tensor(2.0, out.options());
  Tensor zeros = at::zeros({S, B, H}, out.options());
  Tensor h = zeros, c_prev = zeros;
  for (int64_t t = 0; t < T; ++t) {
    Tensor gt = gates.select(1, t % steps), c = cells.select(1, t % kept_cells), tanh_c = tc.select(1, t % steps);
    Tensor i = gt.narrow(-1, 0, H), f = gt.narrow(-1, H, H), g = gt.narrow(-1, 2 * H, H), o = gt.narrow(-1, 3 * H, H);
    at::baddbmm_out(gt, proj.select(1, t), h, wt).sigmoid_();
    from_sigmoid_(g, minus_one);
    at::mul_out(c, f, c_prev).addcmul_(i, g);
    at::mul_out(tanh_c, c, two).sigmoid_();
    from_sigmoid_(tanh_c, minus_one);
    Tensor ht = out.select(1, t);
    h = at::mul_out(ht, o, tanh_c);
    c_prev = c;
  }
}

void lstm_forward(const Tensor& proj, const Tensor& w_hh, Tensor out, Tensor gates, Tensor cells, Tensor tc,
                  int64_t chunks) {
  split_rows(chunks, {proj, out, gates, cells, tc}, {w_hh}, [](std::vector<Tensor>& r, std::vector<Tensor>& w) {
    lstm_forward_chunk(r[0], w[0], r[1], r[2], r[3], r[4]);
  });
}

// grad (S, T, B, H); factors (S, T, B, 4, H), f_c and forget (S, T, B, H); d_gates (S, T, B, 4, H)
void lstm_backward_chunk(const Tensor& grad, const Tensor& w_hh, const Tensor& factors, const Tensor& f_c,
                         const Tensor& forget, Tensor& d_gates) {
  const int64_t S = grad.size(0), T = grad.size(1), B = grad.size(2), H = grad.size(3);
  Tensor dh_buf = at::empty({S, B, H}, grad.options()), dc_buf = at::empty_like(dh_buf),
         dcf_buf = at::empty_like(dh_buf);
  Tensor dcf;
  for (int64_t t = T - 1; t >= 0; --t) {
    Tensor dh = t < T - 1
        ? at::baddbmm_out(dh_buf, grad.select(1, t), d_gates.select(1, t + 1).view({S, B, 4 * H}), w_hh)
        : grad.select(1, t);
    Tensor dc = dcf.defined() ? at::addcmul_out(dc_buf, dcf, dh, f_c.select(1, t))
                              : at::mul_out(dc_buf, dh, f_c.select(1, t));
    Tensor dg = d_gates.select(1, t), ft = factors.select(1, t);
    Tensor dg_cell = dg.narrow(2, 0, 3), dg_out = dg.select(2, 3);
    at::mul_out(dg_cell, dc.unsqueeze(2), ft.narrow(2, 0, 3));
    at::mul_out(dg_out, dh, ft.select(2, 3));
    dcf = at::mul_out(dcf_buf, dc, forget.select(1, t));
  }
}

void lstm_backward(const Tensor& grad, const Tensor& w_hh, const Tensor& factors, const Tensor& f_c,
                   const Tensor& forget, Tensor d_gates, int64_t chunks) {
  split_rows(chunks, {grad, factors, f_c, forget, d_gates}, {w_hh},
             [](std::vector<Tensor>& r, std::vector<Tensor>& w) {
               lstm_backward_chunk(r[0], w[0], r[1], r[2], r[3], r[4]);
             });
}

// -- GRU: gates r, z, n; proj columns r, z, n_h (the recurrent bias b_hn), n_x -----------------

void gru_forward_chunk(const Tensor& proj, const Tensor& w_hh, Tensor& out, Tensor& gates, Tensor& cand) {
  const int64_t S = out.size(0), T = out.size(1), B = out.size(2), H = out.size(3), steps = gates.size(1);
  const Tensor wt = w_hh.transpose(1, 2), minus_one = minus_one_like(out);
  const Tensor p3 = proj.narrow(-1, 0, 3 * H), pn = proj.narrow(-1, 3 * H, H);
  Tensor h = at::zeros({S, B, H}, out.options());
  for (int64_t t = 0; t < T; ++t) {
    Tensor g = gates.select(1, t % steps), n = cand.select(1, t % steps);
    at::baddbmm_out(g, p3.select(1, t), h, wt);
    g.narrow(-1, 0, 2 * H).sigmoid_();
    at::addcmul_out(n, pn.select(1, t), g.narrow(-1, 0, H), g.narrow(-1, 2 * H, H)).sigmoid_();
    from_sigmoid_(n, minus_one);
    Tensor ht = out.select(1, t);
    h = at::lerp_out(ht, n, h, g.narrow(-1, H, H));  // n + z (h_prev - n)
  }
}

void gru_forward(const Tensor& proj, const Tensor& w_hh, Tensor out, Tensor gates, Tensor cand, int64_t chunks) {
  split_rows(chunks, {proj, out, gates, cand}, {w_hh}, [](std::vector<Tensor>& r, std::vector<Tensor>& w) {
    gru_forward_chunk(r[0], w[0], r[1], r[2], r[3]);
  });
}

// grad (S, T, B, H); factors and d_proj (S, T, B, 4, H); update z (S, T, B, H)
void gru_backward_chunk(const Tensor& grad, const Tensor& w_hh, const Tensor& factors, const Tensor& update,
                        Tensor& d_proj) {
  const int64_t S = grad.size(0), T = grad.size(1), B = grad.size(2), H = grad.size(3);
  Tensor dh_buf = at::empty({S, B, H}, grad.options()), mix = at::empty_like(dh_buf);
  Tensor dh = grad.select(1, T - 1);
  for (int64_t t = T - 1; t >= 0; --t) {
    if (t < T - 1) {
      at::addcmul_out(mix, grad.select(1, t), dh, update.select(1, t + 1));
      dh = at::baddbmm_out(dh_buf, mix, d_proj.select(1, t + 1).view({S, B, 4 * H}).narrow(-1, 0, 3 * H), w_hh);
    }
    Tensor dp = d_proj.select(1, t);
    at::mul_out(dp, dh.unsqueeze(2), factors.select(1, t));
  }
}

void gru_backward(const Tensor& grad, const Tensor& w_hh, const Tensor& factors, const Tensor& update,
                  Tensor d_proj, int64_t chunks) {
  split_rows(chunks, {grad, factors, update, d_proj}, {w_hh}, [](std::vector<Tensor>& r, std::vector<Tensor>& w) {
    gru_backward_chunk(r[0], w[0], r[1], r[2], r[3]);
  });
}

}  // namespace

TORCH_LIBRARY(vgsuite_native, m) {
  m.def("plain_forward(Tensor proj, Tensor w_hh, int kind, Tensor(a!) out, int chunks) -> ()", plain_forward);
  m.def("plain_backward(Tensor grad, Tensor w_hh, Tensor out, int kind, Tensor(a!) d_pre, int chunks) -> ()",
        plain_backward);
  m.def("lstm_forward(Tensor proj, Tensor w_hh, Tensor(a!) out, Tensor(b!) gates, Tensor(c!) cells, "
        "Tensor(d!) tc, int chunks) -> ()", lstm_forward);
  m.def("lstm_backward(Tensor grad, Tensor w_hh, Tensor factors, Tensor f_c, Tensor forget, "
        "Tensor(a!) d_gates, int chunks) -> ()", lstm_backward);
  m.def("gru_forward(Tensor proj, Tensor w_hh, Tensor(a!) out, Tensor(b!) gates, Tensor(c!) cand, int chunks) -> ()",
        gru_forward);
  m.def("gru_backward(Tensor grad, Tensor w_hh, Tensor factors, Tensor update, Tensor(a!) d_proj, int chunks) -> ()",
        gru_backward);
}
