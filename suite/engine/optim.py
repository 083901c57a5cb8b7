"""Adam, RMSprop and SGD, gradient norms and clipping over stacked parameters (S, ...).

Each member of a batch (suite.engine.stacked) owns the rows k of every stacked tensor. The optimizers of
torch.optim used by suite.engine.single (default hyperparameters) act elementwise, so one update of the
stacked tensors is S independent updates, here with a learning rate per member; the gradient
norm and the clipping are per member too, each against its own threshold, as
torch.nn.utils.get_total_norm, clip_grad_norm_ and clip_grad_value_ act on one model. Every
member's arithmetic is the same whatever S is (rows are reduced one by one), so a member's
numbers do not depend on its batch-mates.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8     # torch.optim defaults, as suite.engine.single uses them
RMSPROP_ALPHA, RMSPROP_EPS = 0.99, 1e-8


def _per_member(values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
    """A per-member value broadcastable against a stacked tensor `like` (S, ...)."""
    return torch.tensor(values, dtype=like.dtype, device=like.device).view(-1, *([1] * (like.dim() - 1)))


class BatchedOptimizer:
    """torch.optim's Adam, RMSprop and SGD (default hyperparameters) over stacked parameters,
    with a learning rate per member. The updates are elementwise, so member k's rows follow the
    same trajectory as a torch.optim optimizer over member k's own parameters."""

    def __init__(self, name: str, lrs: Sequence[float]):
        if name not in ("adam", "rmsprop", "sgd"):
            raise ValueError(f"optimizer must be one of ['adam', 'rmsprop', 'sgd'], got {name!r}")
        self.name, self.lrs, self.steps = name, list(lrs), 0
        self.state: list[list[torch.Tensor]] = []

    def select(self, index: Sequence[int]) -> None:
        self.lrs = [self.lrs[i] for i in index]
        self.state = [[s[list(index)] for s in states] for states in self.state]

    @torch.no_grad()
    def step(self, params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor]) -> None:
        if not self.state:
            n_states = {"adam": 2, "rmsprop": 1, "sgd": 0}[self.name]
            self.state = [[torch.zeros_like(p) for _ in range(n_states)] for p in params]
        self.steps += 1
        (b1, b2), t = ADAM_BETAS, self.steps
        # per-member step sizes in double precision, as torch.optim computes its scalars
        sizes = [lr / (1 - b1**t) for lr in self.lrs] if self.name == "adam" else self.lrs
        for p, g, states in zip(params, grads, self.state):
            lr = _per_member(sizes, p)
            if self.name == "adam":
                m, v = states
                m.lerp_(g, 1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = (v.sqrt() / (1 - b2**t) ** 0.5).add_(ADAM_EPS)
                p.addcmul_(m / denom, lr, value=-1)
            elif self.name == "rmsprop":
                (square_avg,) = states
                square_avg.mul_(RMSPROP_ALPHA).addcmul_(g, g, value=1 - RMSPROP_ALPHA)
                p.addcmul_(g / square_avg.sqrt().add_(RMSPROP_EPS), lr, value=-1)
            else:
                p.addcmul_(g, lr, value=-1)


def grad_norms(grads: Sequence[torch.Tensor]) -> torch.Tensor:
    """Each member's global L2 gradient norm, (S,): as torch.nn.utils.get_total_norm computes
    it for one model (the norm of the per-tensor norms)."""
    S = grads[0].shape[0]
    per_tensor = torch.stack([torch.linalg.vector_norm(g.reshape(S, -1), dim=1) for g in grads], dim=1)
    return torch.linalg.vector_norm(per_tensor, dim=1)  # reduced along rows: the same sums whatever S is


@torch.no_grad()
def clip_(grads: Sequence[torch.Tensor], norms: torch.Tensor, max_norm: Sequence[float],
          max_value: Sequence[float]) -> None:
    """Clip each member's gradient in place: by its own norm against max_norm[k] (as
    clip_grad_norm_ does) and elementwise to +-max_value[k] (as clip_grad_value_ does); inf
    switches either off for that member."""
    coef = (torch.tensor(max_norm, dtype=norms.dtype, device=norms.device) / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.view(-1, *([1] * (g.dim() - 1))))
        bound = _per_member(max_value, g)
        g.clamp_(min=-bound, max=bound)


__all__ = ["BatchedOptimizer", "clip_", "grad_norms"]
