"""How a user runs vgsuite's checks in their own test suite (here: on the IndRNN example).

    pytest examples/test_indrnn.py

Every (architecture, check) pair is one test: the architecture contract at 1 and 2 layers, and
each expectation, measured by the `vgsuite check` battery (here a small one, so the file runs in
seconds). The deliberately broken cell shows the known-failure dict: its failures are expected,
explained xfails, and the test run fails if they ever start passing.
"""

from __future__ import annotations

import torch
from broken_cells import CutRecurrenceCell  # pytest puts this folder on sys.path
from indrnn import IndRNNCell

from suite.check import make_battery
from suite.testing import parametrize_with_checks

torch.set_num_threads(1)

#: probes only (no training), 6 networks per architecture, input sequences with a gap of 20. The
#: expectations are statistical tests at 5 % (suite/expectations.py): "decay>rnn-tanh" a one-sided
#: Mann-Whitney U over the seeds (>= 3 per side can decide), "horizon>=5" a sign test on the median
#: horizon (>= 5 seeds); with fewer seeds they fail as "not decided (n too small)"
BATTERY = make_battery("quick", train=False, hidden=16, probe_gap=20, probe_seeds=6, probe_batch=4,
                       baselines=["rnn-tanh"])


@parametrize_with_checks(
    [IndRNNCell, CutRecurrenceCell],
    layers=(1, 2),
    expect=["decay>rnn-tanh", "horizon>=5"],
    battery=BATTERY,
    expected_failed_checks={
        "CutRecurrenceCell": {
            "gradient_reaches_first_step": "the recurrence is cut: h_{t-1} enters detached",
            "decay>rnn-tanh": "no gradient reaches an earlier step at all",
            "horizon>=5": "the output sees only the current input",
        },
    },
)
def test_vgsuite_checks(arch, check):
    check(arch)
