"""`vgsuite train`: output, JSON fields, and named errors with exit status 2 (no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from suite.cli import main


def test_train_json_has_the_documented_fields(capsys):
    code = main(["train", "--task", "delayed_recall", "--gap", "3", "--arch", "gru", "--hidden", "8",
                 "--steps", "20", "--eval-every", "10", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    for field in ("solved", "steps_to_solve", "final_loss", "baseline_loss", "metric", "diverged", "wall_s"):
        assert field in out
    assert out["spec"]["arch"]["name"] == "gru" and out["meta"]["torch"]
    assert "hostname" not in json.dumps(out["meta"]).lower()


def test_train_human_output_names_the_baseline(capsys):
    assert main(["train", "--task", "adding", "--gap", "10", "--hidden", "4", "--steps", "5",
                 "--clip", "1", "--init", "orthogonal"]) == 0
    out = capsys.readouterr().out
    assert "memoryless baseline 0.1667" in out and "mse" in out


@pytest.mark.parametrize(
    "args,message",
    [
        (["--task", "copyy", "--gap", "5"], "task must be one of ['adding', 'copy', 'delayed_recall']"),
        (["--task", "copy", "--gap", "0"], "gap must be an integer >= 1"),
        (["--task", "copy", "--gap", "5", "--arch", "rnn"], "arch must be one of"),
        (["--task", "copy", "--gap", "5", "--init", "he"], "init must be one of"),
        (["--task", "copy", "--gap", "5", "--hidden", "-3"], "hidden must be a positive integer"),
        (["--task", "copy", "--gap", "5", "--steps", "0"], "steps must be a positive integer"),
        (["--task", "copy", "--gap", "5", "--batch-size", "0"], "batch_size must be a positive integer"),
        (["--task", "copy", "--gap", "5", "--arch", "gru", "--forget-bias", "1"], "forget_bias applies only"),
        (["--task", "copy", "--gap", "5", "--task-option", "variant"], "key=value"),
        (["--task", "copy", "--gap", "5", "--device", "tpu"], "device must be"),
    ],
)
def test_bad_input_exits_2_with_a_named_error(args, message, capsys):
    assert main(["train", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_console_script_exit_code_and_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "suite.cli", "train", "--task", "copy", "--gap", "-1"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "gap must be an integer >= 1" in proc.stderr and "Traceback" not in proc.stderr
