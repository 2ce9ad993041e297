"""Sharded sampling and AIS on 2 processes (gloo on 127.0.0.1, launched by ``torchrun``):
samples against exact enumeration, AIS against exact log Z, identical gathered results on
both ranks, rank order, the divisibility errors; and in one process ``distributed=True`` is
the plain call, draws included.

One ``torchrun`` launch (module fixture) runs ``WORKER`` on both ranks; each rank saves what
it returned and the tests compare the two files with the exact answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch

from discrete_ebm.evaluation import ais, exact
from discrete_ebm.evaluation.metrics import total_variation, tv_tolerance
from discrete_ebm.models.ising import IsingModel
from discrete_ebm.models.neural import QuadraticEnergy
from discrete_ebm.models.rbm import RBM
from discrete_ebm.samplers import BlockGibbsSampler, GWGSampler, LangevinSampler
from discrete_ebm.samplers.parallel_tempering import ParallelTempering

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available(), reason="this torch build has no torch.distributed"
)

N = 8000  # global chains of the sampler runs (4000 per rank)
N_AIS = 200

WORKER = """
import sys
import torch
from discrete_ebm import distributed as D
from discrete_ebm.evaluation import ais, exact
from discrete_ebm.recipes.rbm import evaluate_rbm
from discrete_ebm.samplers import BlockGibbsSampler, GibbsSampler, GWGSampler, LangevinSampler
from discrete_ebm.samplers.parallel_tempering import ParallelTempering
from test_distributed_sampling import N, N_AIS, frustrated, gaussian, lattice, rbm

torch.set_num_threads(1)
g = lambda s: torch.Generator().manual_seed(s)
res = {}
# the first sharded call initialises the process group itself (torchrun set the environment)
res["block_generic"] = BlockGibbsSampler(frustrated()).sample(
    N, 60, generator=g(10), distributed=True
)
res["world"], res["rank"] = D.world_size(), D.rank()
res["block_lattice"] = BlockGibbsSampler(lattice()).sample(N, 60, generator=g(11), distributed=True)
res["gwg"], res["gwg_diag"] = GWGSampler(frustrated()).sample(
    N, 60, generator=g(12), distributed=True, return_diagnostics=True, thin=20
)
res["pt"], res["pt_diag"] = ParallelTempering(frustrated(), 4).sample(
    N, 30, generator=g(16), distributed=True, return_diagnostics=True
)
res["mala"] = LangevinSampler(gaussian(), 0.3, metropolis=True).sample(
    N, 40, generator=g(13), distributed=True
)
x0 = exact.all_states(7)
clamp = torch.rand(x0.shape, generator=g(14)) < 0.5
res["x0_steps0"] = GibbsSampler(frustrated()).sample(x0=x0, n_steps=0, distributed=True)
res["clamped"] = GibbsSampler(frustrated()).sample(
    x0=x0, n_steps=3, clamp=clamp, generator=g(15), distributed=True
)
res["ais_rbm"] = ais.log_partition(
    rbm(), N_AIS, 1000, generator=g(100), distributed=True, return_log_weights=True
)
res["ais_ising"] = ais.log_partition(frustrated(), N_AIS, 300, generator=g(101), distributed=True)
data = exact.all_states(9)[::3]  # 171 rows: unequal shares of the rows
res["ll"] = ais.log_likelihood(rbm().double(), data, 1.5, distributed=True)
res["ll_plain"] = ais.log_likelihood(rbm().double(), data, 1.5)
res["evaluate_rbm"] = evaluate_rbm(
    rbm(), data, ais.data_marginals(data), ais_chains=N_AIS, ais_betas=300, generator=g(102),
    distributed=True,
)
for key, call in {
    "err_sample": lambda: GibbsSampler(frustrated()).sample(N + 1, 1, distributed=True),
    "err_ais": lambda: ais.log_partition(rbm(), N_AIS + 1, 10, distributed=True),
}.items():
    try:
        call()
        res[key] = None
    except ValueError as e:
        res[key] = str(e)
torch.save(res, f"{sys.argv[1]}/rank{D.rank()}.pt")
"""


def frustrated() -> IsingModel:
    """Random-sign couplings and fields on a dense 7-site graph (generic colour blocks)."""
    g = torch.Generator().manual_seed(2)
    return IsingModel.erdos_renyi(7, 0.7, coupling_std=0.6, field_std=0.5, generator=g)


def lattice() -> IsingModel:
    """An open 3 × 4 antiferromagnet in a field (the checkerboard kernel)."""
    return IsingModel.lattice((3, 4), coupling=-0.5, field=0.2, periodic=False)


def gaussian() -> QuadraticEnergy:
    return QuadraticEnergy(torch.tensor([[2.0, 0.6], [0.6, 1.0]]), torch.tensor([1.0, -0.5]))


def rbm() -> RBM:
    g = torch.Generator().manual_seed(4)
    W = 2.0 * torch.randn(9, 5, generator=g, dtype=torch.float64)
    b = torch.randn(9, generator=g, dtype=torch.float64)
    c = torch.randn(5, generator=g, dtype=torch.float64)
    return RBM.from_parameters(W, b, c).float()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(script: str, args: list[str], cwd, nproc: int = 2, timeout: float = 120) -> None:
    """Run ``script`` on ``nproc`` local processes (gloo, 127.0.0.1, one thread each)."""
    path = cwd / "worker.py"
    path.write_text(textwrap.dedent(script))
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(
            [os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")]
        ),
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc-per-node={nproc}",
        "--master-addr=127.0.0.1",
        f"--master-port={free_port()}",
        str(path),
        *args,
    ]
    out = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """What each of the 2 ranks returned: ``[results of rank 0, results of rank 1]``."""
    tmp = tmp_path_factory.mktemp("two_ranks")
    torchrun(WORKER, [str(tmp)], tmp)
    return [torch.load(tmp / f"rank{r}.pt", weights_only=False) for r in (0, 1)]


def test_both_ranks_return_identical_gathered_results(ranks):
    r0, r1 = ranks
    assert (r0["world"], r0["rank"], r1["rank"]) == (2, 0, 1)
    for key in ("block_generic", "block_lattice", "gwg", "pt", "mala", "clamped", "x0_steps0"):
        assert torch.equal(r0[key], r1[key]), key
    assert r0["ais_rbm"][:2] == r1["ais_rbm"][:2] and r0["ais_ising"] == r1["ais_ising"]
    assert torch.equal(r0["ais_rbm"][2], r1["ais_rbm"][2])
    for key in ("energy", "energy_trace"):
        assert torch.equal(r0["gwg_diag"][key], r1["gwg_diag"][key])
    # the two ranks drew independent streams: their halves differ
    x = r0["block_generic"]
    assert x.shape == (N, 7) and not torch.equal(x[: N // 2], x[N // 2 :])
    assert not torch.equal(r0["ais_rbm"][2][: N_AIS // 2], r0["ais_rbm"][2][N_AIS // 2 :])


@pytest.mark.parametrize("key,model", [("block_generic", frustrated), ("block_lattice", lattice)])
def test_two_rank_block_gibbs_matches_exact_distribution(ranks, key, model):
    p = exact.probabilities(model())
    assert total_variation(ranks[0][key], p) < tv_tolerance(p, N)
    m = exact.marginals(model()).float()
    assert ((ranks[0][key].mean(0) - m).abs() < 5 * (m * (1 - m) / N).sqrt() + 1e-3).all()


def test_two_rank_gwg_pt_and_mala_match_their_targets(ranks):
    p = exact.probabilities(frustrated())
    assert total_variation(ranks[0]["gwg"], p) < tv_tolerance(p, N)
    assert total_variation(ranks[0]["pt"], p) < tv_tolerance(p, N)
    pt = ranks[0]["pt_diag"]  # per-chain entries gathered, per-pair rates averaged
    assert pt["replica_labels"].shape == (4, N) and pt["round_trips"].shape == (N,)
    assert pt["swap_acceptance"].shape == (3,) and ((pt["swap_acceptance"] > 0).all())
    assert (pt["replica_labels"].sort(0).values == torch.arange(4).unsqueeze(1)).all()
    diag = ranks[0]["gwg_diag"]
    assert diag["energy_trace"].shape == (3, N)
    torch.testing.assert_close(diag["energy"], frustrated()(ranks[0]["gwg"]))
    assert 0 < diag["acceptance_rate"] <= 1 and diag["seconds"] > 0
    # MALA on N(μ, P⁻¹): the mean within 5 standard errors
    x, model = ranks[0]["mala"], gaussian()
    se = (torch.linalg.inv(model.precision.detach()).diagonal() / N).sqrt()
    assert ((x.mean(0) - model.mean.detach()).abs() < 5 * se).all()


def test_rows_of_x0_and_clamp_are_sharded_in_rank_order(ranks):
    x0 = exact.all_states(7)
    assert torch.equal(ranks[0]["x0_steps0"], x0)  # no step: the gathered rows are x0's
    clamp = torch.rand(x0.shape, generator=torch.Generator().manual_seed(14)) < 0.5
    out = ranks[0]["clamped"]
    assert torch.equal(out[clamp], x0[clamp]) and not torch.equal(out, x0)


def test_two_rank_ais_agrees_with_exact_log_partition(ranks):
    log_z, se, log_w = ranks[0]["ais_rbm"]
    truth = float(exact.log_partition(rbm()))
    assert log_w.shape == (N_AIS,) and 0 < se < 0.1
    assert abs(log_z - truth) < 3 * se, (log_z, se, truth)
    assert se == ais.log_mean_exp_with_stderr(log_w)[1]  # over all N_AIS gathered weights
    log_z, se = ranks[0]["ais_ising"]
    truth = float(exact.log_partition(frustrated()))
    assert 0 < se < 0.1 and abs(log_z - truth) < 3 * se, (log_z, se, truth)


def test_two_rank_log_likelihood_and_rbm_evaluation(ranks):
    assert ranks[0]["ll"] == pytest.approx(ranks[0]["ll_plain"], rel=1e-12, abs=1e-9)
    assert ranks[1]["ll"] == ranks[0]["ll"]
    # the RBM recipe's evaluation with its AIS sharded: exact log Z within 3 standard errors
    ev = ranks[0]["evaluate_rbm"]
    truth = float(exact.log_partition(rbm()))
    assert 0 < ev["log_z_stderr"] < 0.1 and abs(ev["log_z"] - truth) < 3 * ev["log_z_stderr"]
    assert ranks[1]["evaluate_rbm"]["log_z"] == ev["log_z"]


def test_a_chain_count_the_world_size_does_not_divide_is_refused(ranks):
    for r in ranks:
        assert r["err_sample"] == f"n_chains={N + 1} is not divisible by the world size 2"
        assert r["err_ais"] == f"n_chains={N_AIS + 1} is not divisible by the world size 2"


@pytest.mark.parametrize(
    "make",
    [
        lambda: BlockGibbsSampler(frustrated()),
        lambda: BlockGibbsSampler(lattice()),
        lambda: GWGSampler(frustrated()),
        lambda: LangevinSampler(gaussian(), 0.3, metropolis=True),
        lambda: ParallelTempering(frustrated(), 3),
    ],
    ids=["block-generic", "block-lattice", "gwg", "mala", "parallel-tempering"],
)
def test_one_process_distributed_is_the_plain_call(make):
    runs = []
    for distributed in (False, True):
        g = torch.Generator().manual_seed(3)
        x, diag = make().sample(
            50, 7, generator=g, return_diagnostics=True, distributed=distributed
        )
        runs.append((x, diag["energy_trace"], torch.rand(1, generator=g)))
    for a, b in zip(*runs):
        assert torch.equal(a, b)


def test_one_process_distributed_ais_is_the_plain_call():
    out = [
        ais.log_partition(rbm(), 30, 50, generator=torch.Generator().manual_seed(5), distributed=d)
        for d in (False, True)
    ]
    assert out[0] == out[1]
    data = exact.all_states(9)
    assert ais.log_likelihood(rbm(), data, 1.0, distributed=True) == ais.log_likelihood(
        rbm(), data, 1.0
    )
