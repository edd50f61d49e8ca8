"""bench.run.environment: the facts that decide bitwise reproducibility, and the simulated ISAs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.run.environment import (
    KERNEL_FLAGS,
    SIMULATED_ISA_MARKER,
    SIMULATED_ISAS,
    environment_differences,
    environment_info,
    environment_key,
    simulated_isa_environment,
)

CPUINFO = Path("/proc/cpuinfo")


def _child_environment(extra: dict[str, str]) -> dict:
    """environment_info() read in a fresh process with ``extra`` in its environment."""
    code = "import json; from bench.run.environment import environment_info; " \
           "print(json.dumps(environment_info()))"
    env = {k: v for k, v in os.environ.items()
           if k not in SIMULATED_ISAS["avx2"] and k != SIMULATED_ISA_MARKER}
    out = subprocess.run([sys.executable, "-c", code], env={**env, **extra}, check=True,
                         capture_output=True, text=True, timeout=120).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_the_record_holds_what_the_issue_asks_for():
    info = environment_info("cpu", {"numpy": "2"})
    assert set(KERNEL_FLAGS) == set(info["cpu_flags"])
    assert {"avx2", "avx512f", "avx512_bf16", "amx_tile"} <= set(info["cpu_flags"])
    assert info["device"] == "cpu" and info["torch"]["cpu_capability"]
    assert info["torch"]["num_threads"] >= 1 and info["torch"]["onednn"]
    assert any(pool["user_api"] == "blas" for pool in info["threadpools"])
    assert all("filepath" not in pool for pool in info["threadpools"])  # paths vary per venv
    assert info["key"] == environment_key(info, {"numpy": "2"})
    assert info["key"] != environment_key(info, {"numpy": "3"})  # packages are in the key


@pytest.mark.skipif(not CPUINFO.is_file(), reason="needs Linux /proc/cpuinfo")
def test_cpu_flags_are_the_kernels_own_reading():
    text = CPUINFO.read_text()
    flags = set(next(ln for ln in text.splitlines() if ln.startswith("flags")).split(":")[1]
                .split())
    info = environment_info()
    assert info["cpu_flags"] == {f: f in flags for f in KERNEL_FLAGS}
    model = next(ln for ln in text.splitlines() if ln.startswith("model name"))
    assert info["cpu_model"] == model.split(":", 1)[1].strip()


def test_the_key_is_stable_and_a_kernel_variable_changes_it():
    native = _child_environment({})
    again = _child_environment({})
    assert native["key"] == again["key"]
    capability = "default" if native["torch"]["cpu_capability"] == "AVX2" else "avx2"
    if native["torch"]["cpu_capability"] == "DEFAULT":
        pytest.skip("this CPU has no vector capability to step down from")
    lowered = _child_environment({"ATEN_CPU_CAPABILITY": capability})
    assert lowered["torch"]["cpu_capability"] == capability.upper()
    assert lowered["key"] != native["key"]
    differences = environment_differences(native, lowered)
    assert any(d.startswith("torch.cpu_capability:") for d in differences)
    assert any(d.startswith("kernel_env.ATEN_CPU_CAPABILITY:") for d in differences)


def test_the_simulated_avx2_machine_is_what_its_libraries_report():
    variables = simulated_isa_environment("avx2")
    child = _child_environment(variables)
    assert child["simulated_isa"] == "avx2"
    assert child["torch"]["cpu_capability"] in ("AVX2", "DEFAULT")  # DEFAULT on a pre-AVX2 CPU
    assert child["numba"]["cpu_name"] == "haswell"
    assert {p.get("architecture") for p in child["threadpools"] if p["user_api"] == "blas"} == {
        "Haswell"}
    assert child["kernel_env"]["ONEDNN_MAX_CPU_ISA"] == "AVX2"


def test_differences_name_what_changed_and_an_old_record_differs_from_everything():
    base = environment_info()
    other = {**base, "cpu_model": "Other CPU", "cpu_flags": {**base["cpu_flags"],
                                                            "avx512f": False}}
    differences = environment_differences(base, other, {"torch": "2.13.0"}, {"torch": "2.14.0"})
    assert any(d.startswith("cpu_model:") and "Other CPU" in d for d in differences)
    assert any(d.startswith("cpu_flags.avx512f:") for d in differences)
    assert "packages.torch: 2.13.0 -> 2.14.0" in differences
    assert environment_differences(base, dict(base)) == []
    assert environment_differences(None, base) == ["no environment record in the baseline"]


def test_an_unknown_simulated_isa_is_a_clear_error():
    with pytest.raises(ValueError, match="avx2, avx512_core, sse41"):
        simulated_isa_environment("avx1024")


def test_a_simulated_child_environment_keeps_nothing_of_another_simulation():
    base = {"PATH": "/bin", "OPENCV_CPU_DISABLE": "AVX", "OMP_NUM_THREADS": "1"}
    child = simulated_isa_environment("avx512_core", base)
    assert child["PATH"] == "/bin" and child["OMP_NUM_THREADS"] == "1"
    assert "OPENCV_CPU_DISABLE" not in child  # set by avx2 / sse41, not by avx512_core
    assert child["ONEDNN_MAX_CPU_ISA"] == "AVX512_CORE"
    assert child[SIMULATED_ISA_MARKER] == "avx512_core"


def test_a_simulated_machine_has_its_own_cache_home(tmp_path):
    """Another machine computes its own descriptors, frames and backbones: the simulated
    child must not read this machine's caches; a simulation started from a simulation keeps
    one level."""
    from bench.paths import cache_home

    base = {"PATH": "/bin", "ACTBENCH_HOME": str(tmp_path)}
    child = simulated_isa_environment("avx2", base)
    assert child["ACTBENCH_HOME"] == str(tmp_path / "simulated-avx2")
    assert cache_home(child["ACTBENCH_HOME"]) != cache_home(str(tmp_path))
    grandchild = simulated_isa_environment("sse41", child)
    assert grandchild["ACTBENCH_HOME"] == str(tmp_path / "simulated-sse41")
    default = simulated_isa_environment("avx2", {"PATH": "/bin"})
    assert default["ACTBENCH_HOME"] == str(cache_home() / "simulated-avx2")
