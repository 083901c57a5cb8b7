"""The training engine: the run protocol and the two trainers that follow it.

    protocol.py       RunResult and RunLog: evaluation, divergence, early stop, the record (once)
    single.py         the per-run trainer (PyTorch's own fused layers; any model)
    stacked.py        the stacked trainer: S compatible runs as one model (run_batch)
    groups.py         which trainer a spec gets (from its registry entry) and which runs share a batch
    stacked_model.py  BatchedRNN: S networks' parameters stacked along a member axis
    optim.py          Adam/RMSprop/SGD, gradient norms and clipping per member of a stack
    kernels.py        the stacked recurrences (Elman, residual, LSTM, GRU) with hand-written backward
    gated_kernels.py  the LSTM and GRU halves of kernels.py
    native.py         the compiled time loops of native_loops.cpp (optional, same numbers)

`suite.train.run(spec)` is the one way in: it asks `groups.trainer_of(spec)` which trainer runs
the spec. Layering: protocol, kernels, native and optim import nothing of the models; the model
layer uses kernels.py for the GRU's CPU forward; the trainers build on the models. This file
imports nothing, so that the model layer can import the kernels without loading the trainers.
"""
