"""The GPU check (benchmarks/gpu_check.py): its dry run on CPU prints one JSON line of
positive throughputs and runs the device tests it selects; and device tests of the kernels
it times (samplers against exact enumeration, AIS against exact log Z) on every device."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from discrete_ebm.evaluation import ais, exact
from discrete_ebm.evaluation.metrics import total_variation, tv_tolerance
from discrete_ebm.models.ising import IsingModel
from discrete_ebm.models.neural import QuadraticEnergy
from discrete_ebm.models.rbm import RBM
from discrete_ebm.samplers import BlockGibbsSampler, GWGSampler, LangevinSampler

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
FIGURES = [
    "langevin_chain_steps_per_s",
    "block_gibbs_spin_updates_per_ns",
    "rbm_fused_pcd_vectors_per_s",
    "bernoulli_ed_fit_step_s",
    "bernoulli_ed_rows_per_s",
]
N = 4000


@pytest.fixture
def gpu_check(load_script):
    return load_script(SCRIPT)


def test_dry_run_prints_one_json_line_of_positive_throughputs(gpu_check, capsys):
    assert gpu_check.main(["--device", "cpu", "--no-tests", "--repeats", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["device"] == "cpu" and record["small"] is True and record["tests"] is None
    assert record["sizes"]["lattice"] < 4096  # the dry run says it shrank the sizes
    for key in FIGURES:
        assert isinstance(record[key], float) and record[key] > 0, key
    # rows per second of one ED step is the batch over the step's seconds
    assert record["bernoulli_ed_rows_per_s"] == pytest.approx(
        record["sizes"]["ed_batch"] / record["bernoulli_ed_fit_step_s"]
    )


def test_the_device_tests_it_runs_are_the_marked_ones(gpu_check):
    got = gpu_check.run_device_tests(
        torch.device("cpu"), "optimizer_instance or bad_arguments", paths=["tests/test_training.py"]
    )
    assert (got["returncode"], got["passed"], got["failed"]) == (0, 1, 0)


def test_cuda_without_a_gpu_is_refused(gpu_check, capsys):
    if torch.cuda.is_available():
        pytest.skip("a GPU is available")
    with pytest.raises(SystemExit):
        gpu_check.main(["--device", "cuda", "--no-tests"])
    assert "CUDA is not available" in capsys.readouterr().err


@pytest.mark.parametrize("fast_lattice", [True, False], ids=["kernel", "generic"])
def test_block_gibbs_on_device_matches_exact(device, fast_lattice):
    model = IsingModel.lattice((3, 4), coupling=-0.5, field=0.2, periodic=False).to(device)
    sampler = BlockGibbsSampler(model, fast_lattice=fast_lattice)
    assert (sampler.lattice_kernel is not None) == fast_lattice
    x = sampler.sample(N, 60, generator=torch.Generator(device=device).manual_seed(0))
    assert x.device.type == device
    p = exact.probabilities(model.cpu())
    assert total_variation(x.cpu(), p) < tv_tolerance(p, N)


def test_gwg_and_mala_on_device_sample_their_targets(device):
    g = torch.Generator(device=device).manual_seed(1)
    ising = IsingModel.erdos_renyi(
        7, 0.7, coupling_std=0.6, field_std=0.5, generator=torch.Generator().manual_seed(2)
    )
    x = GWGSampler(ising.to(device)).sample(N, 60, generator=g)
    p = exact.probabilities(ising.cpu())
    assert total_variation(x.cpu(), p) < tv_tolerance(p, N)
    gauss = QuadraticEnergy(torch.tensor([[2.0, 0.6], [0.6, 1.0]]), torch.tensor([1.0, -0.5]))
    y = LangevinSampler(gauss.to(device), 0.3, metropolis=True).sample(N, 40, generator=g)
    se = (torch.linalg.inv(gauss.precision.detach().cpu()).diagonal() / N).sqrt()
    assert ((y.mean(0).cpu() - gauss.mean.detach().cpu()).abs() < 5 * se).all()


def test_ais_on_device_matches_exact(device):
    g = torch.Generator().manual_seed(4)
    W = 2.0 * torch.randn(9, 5, generator=g, dtype=torch.float64)
    rbm = RBM.from_parameters(W, torch.randn(9, generator=g, dtype=torch.float64)).float()
    truth = float(exact.log_partition(rbm))
    log_z, se = ais.log_partition(
        rbm.to(device), 200, 1000, generator=torch.Generator(device=device).manual_seed(5)
    )
    assert 0 < se < 0.1 and abs(log_z - truth) < 3 * se, (log_z, se, truth)
