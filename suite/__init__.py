"""vgsuite: the textbook account of vanishing gradients in recurrent networks, put on trial.

Layers, each depending only on those above it: `tasks` (synthetic tasks) -> `suite.models`
(architectures) and `suite.mitigations` -> `suite.specs` (what a run is) -> `suite.train`
(one run) -> `suite.probes` (gradient flow) -> `suite.store` / `suite.sweep` (many runs) ->
`suite.claims` (verdicts) -> `suite.report`.
"""

__version__ = "0.1.0"
