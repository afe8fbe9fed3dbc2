"""The job script generator, the provisioner's config, and the node-side launcher."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import adrastea.slurm
from adrastea.errors import ConfigError
from adrastea.kernels._slurm_config import SlurmKernelConfig
from adrastea.kernels._slurm_launch import node_address
from adrastea.kernels._slurm_script import job_name, kernel_argv, render_script

LAUNCHER = Path(adrastea.slurm.__file__).parents[1] / "kernels" / "_slurm_launch.py"


def script(**options: object) -> str:
    return render_script(
        SlurmKernelConfig.from_options(dict(options)),
        name="adrastea-python3",
        kernel_id="k1",
        launcher=["/py", "-I", "/launch.py", "req.json", "conn.json", "--"],
        kernel=["/py", "-m", "ipykernel_launcher", "-f", "/jobs/k1/connection.json"],
        env={"GREETING": "it's a 'test'", "not a name": "x"},
    )


def test_script_carries_resources_setup_env_and_exec() -> None:
    text = script(
        partition="batch",
        time=90,
        cpus=4,
        mem="8G",
        gres="gpu:1",
        account="proj",
        qos="high",
        constraint="avx2",
        extra_sbatch=["--exclusive", "#SBATCH --licenses=matlab"],
        setup=["module load python", "source ~/venv/bin/activate"],
    )
    lines = text.splitlines()
    assert lines[0] == "#!/bin/bash"
    directives = [line for line in lines if line.startswith("#SBATCH")]
    assert directives == [
        "#SBATCH --job-name=adrastea-python3",
        "#SBATCH --partition=batch",
        "#SBATCH --time=90",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --mem=8G",
        "#SBATCH --gres=gpu:1",
        "#SBATCH --account=proj",
        "#SBATCH --qos=high",
        "#SBATCH --constraint=avx2",
        "#SBATCH --no-requeue",
        "#SBATCH --exclusive",
        "#SBATCH --licenses=matlab",
    ]
    # #SBATCH lines must all come before the first command, or sbatch ignores them.
    assert lines.index(directives[-1]) < lines.index("module load python")
    assert lines.index("module load python") < lines.index("source ~/venv/bin/activate")
    assert "export GREETING='it'\"'\"'s a '\"'\"'test'\"'\"''" in lines
    assert not any("not a name" in line for line in lines)
    assert lines[-1] == (
        "exec /py -I /launch.py req.json conn.json -- "
        "/py -m ipykernel_launcher -f /jobs/k1/connection.json"
    )


def test_minimal_script_runs_in_bash(tmp_path: Path) -> None:
    text = script().replace("exec /py", "exec echo /py")
    assert [line for line in text.splitlines() if line.startswith("#SBATCH")] == [
        "#SBATCH --job-name=adrastea-python3",
        "#SBATCH --no-requeue",
    ]
    (tmp_path / "job.sh").write_text(text)
    out = subprocess.run(["bash", str(tmp_path / "job.sh")], capture_output=True, text=True)
    assert out.stdout.startswith("/py -I /launch.py")


def test_kernel_argv_fills_placeholders() -> None:
    argv = kernel_argv(
        ["python", "-m", "k", "-f", "{connection_file}", "--x={resource_dir}/a", "{other}"],
        connection_file=Path("/jobs/k1/connection.json"),
        resource_dir="/share/kernels/k",
    )
    assert argv == [
        sys.executable,
        "-m",
        "k",
        "-f",
        "/jobs/k1/connection.json",
        "--x=/share/kernels/k/a",
        "{other}",
    ]


def test_job_names_are_one_safe_word() -> None:
    config = SlurmKernelConfig()
    assert job_name(config, "python3") == "adrastea-python3"
    assert job_name(config, "my kernel (GPU)") == "adrastea-my-kernel-GPU"
    assert job_name(SlurmKernelConfig(job_name="lab notebook"), "x") == "lab-notebook"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"partiton": "debug"}, "partiton: Extra inputs are not permitted"),
        ({"partition": "debug --exclusive"}, "partition: Value error, 'debug --exclusive'"),
        ({"cpus": 0}, "cpus: Input should be greater than or equal to 1"),
        ({"setup": ["a\nb"]}, "setup: Value error"),
        ({"keep_logs": "sometimes"}, "keep_logs: Input should be 'always', 'failed' or 'never'"),
    ],
)
def test_bad_config_names_the_key(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match="bad adrastea-slurm provisioner config") as bad:
        SlurmKernelConfig.from_options(options)
    assert message in str(bad.value)


def test_config_takes_minutes_as_a_number() -> None:
    assert SlurmKernelConfig.from_options({"time": 30}).time == "30"


@pytest.mark.slow
def test_launcher_writes_connection_file_then_execs(tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"key": "secret", "signature_scheme": "hmac-sha256"}))
    out = tmp_path / "connection.json"
    shown = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            str(LAUNCHER),
            "--ip",
            "127.0.0.1",
            str(request),
            str(out),
            "--",
            "cat",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(shown.stdout)  # the exec'd command saw the finished file
    assert info == json.loads(out.read_text())
    ports = [info[f"{n}_port"] for n in ("shell", "iopub", "stdin", "control", "hb")]
    assert len(set(ports)) == 5 and all(p > 0 for p in ports)
    assert (info["ip"], info["transport"], info["key"]) == ("127.0.0.1", "tcp", "secret")
    assert out.stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob(".connection-*"))  # no temporary file left behind


def test_launcher_auto_address_routes_to_the_server() -> None:
    assert node_address("10.1.2.3", "anything") == "10.1.2.3"
    assert node_address("auto", "127.0.0.1").startswith("127.")


def test_public_api_is_honest() -> None:
    for name in adrastea.slurm.__all__:
        assert hasattr(adrastea.slurm, name), name
    public = {n for n in vars(adrastea.slurm) if not n.startswith("_")} - {"annotations"}
    modules = {"types"}
    assert public - modules == set(adrastea.slurm.__all__)
