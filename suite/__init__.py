"""vgsuite: the textbook account of vanishing gradients in recurrent networks, put on trial.

Layers, each depending only on those above it: `tasks` (synthetic tasks) -> `suite.models`
(architectures) and `suite.mitigations` -> `suite.specs` (what a run is) -> `suite.engine` and
`suite.train` (one run) -> `suite.probes` (gradient flow) -> `suite.store` / `suite.sweep` (many runs) ->
`suite.claims` (verdicts) -> `suite.report`.

Importing the package asks Intel MKL for strict conditional numerical reproducibility
(MKL_CBWR=AUTO,STRICT, unless the variable is set already). Without it MKL rounds a matrix
product differently with the data's memory alignment and, in a batched product, with the number
of matrices and their place in the batch, so a run's numbers would depend on the runs it happened
to share a batch with. MKL reads the variable when it first computes, so import vgsuite before
any torch computation (the CLI, nox and the tests do). `suite.environment.mkl_reproducible()`
says whether it took effect; run metadata records it.
"""

import os

os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

__version__ = "0.1.0"
