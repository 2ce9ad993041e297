"""Data-parallel ``fit`` over torch.distributed: 2 processes over gloo on 127.0.0.1.

Multi-process tests run a script written to ``tmp_path`` in 2 processes of one thread each:
under ``python -m torch.distributed.run --nproc-per-node 2`` (torchrun), or started here with
the environment torchrun gives its workers (``two_ranks``: the launcher's own torch import
saved). The script reports what it saw in files that the test reads. The same ``fit`` call
runs in this process for the single-process reference.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch

import discrete_ebm.distributed as D
from discrete_ebm.io import write_json
from discrete_ebm.training.parallel import (
    bytes_per_step,
    data_checksum,
    shard_energy,
    share_bounds,
)

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available(), reason="torch built without torch.distributed"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environment(tmp_path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(tmp_path)}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR"):
        env.pop(name, None)
    env.pop("MASTER_PORT", None)
    return env


def torchrun(tmp_path, script: str, *args: str, timeout: float = 120):
    """Run ``script`` (written to ``tmp_path/script.py``) in 2 processes under torchrun, in
    ``tmp_path``, asserting exit code 0; returns the CompletedProcess."""
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(script))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    cmd += ["--master-addr", "127.0.0.1", "--master-port", str(_free_port()), str(path), *args]
    proc = subprocess.run(
        cmd,
        cwd=tmp_path,
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc


def two_ranks(tmp_path, script: str, *args: str, check: bool = True, timeout: float = 120):
    """Run ``script`` in 2 processes set up as torchrun sets up its workers (``RANK``,
    ``WORLD_SIZE``, ``MASTER_ADDR``/``PORT`` on 127.0.0.1, the rendezvous store hosted by
    the launcher: here this process) without torchrun's own launcher process (one torch
    import fewer); returns the exit codes (asserting 0 with ``check``). Output goes to
    ``tmp_path/rank<r>.log``."""
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(script))
    store = torch.distributed.TCPStore("127.0.0.1", 0, 2, True, wait_for_workers=False)
    port, procs = str(store.port), []
    for r in range(2):
        env = _environment(tmp_path)
        env.update(RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE="2", LOCAL_WORLD_SIZE="2")
        env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        env.update(TORCHELASTIC_USE_AGENT_STORE="True")  # the store outlives the workers
        with open(tmp_path / f"rank{r}.log", "w") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, str(path), *args],
                    cwd=tmp_path,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        codes = [p.wait(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        del store
    if check:
        logs = "".join((tmp_path / f"rank{r}.log").read_text()[-3000:] for r in range(2))
        assert codes == [0, 0], logs
    return codes


# --------------------------------------------------------------- one process
def test_single_process_is_the_identity():
    assert (D.rank(), D.world_size(), D.is_main(), D.is_distributed()) == (0, 1, True, False)
    assert D.local_count(12, "batch_size") == 12 and D.local_rows(12, "n") == slice(0, 12)
    x = torch.arange(6.0).reshape(3, 2)
    assert D.all_gather_rows(x) is x and D.all_reduce_sum(x) is x
    assert not D.ensure_process_group("cpu")


def test_rank_generators_are_reproducible_independent_streams():
    draw = lambda r: torch.rand(4, generator=D.rank_generator(7, of_rank=r))  # noqa: E731
    assert torch.equal(draw(0), torch.rand(4, generator=torch.Generator().manual_seed(7)))
    assert torch.equal(draw(1), draw(1))
    assert len({tuple(draw(r).tolist()) for r in range(4)}) == 4


@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_a_batch_is_split_in_contiguous_shares_differing_by_at_most_one_row(world):
    for b in range(world, 12):
        bounds = [share_bounds(b, world, r) for r in range(world)]
        assert bounds[0][0] == 0 and bounds[-1][1] == b
        assert all(bounds[r][1] == bounds[r + 1][0] for r in range(world - 1))
        sizes = [stop - start for start, stop in bounds]
        assert max(sizes) - min(sizes) <= 1 and sorted(sizes, reverse=True) == sizes


def test_data_checksum_sees_a_swap_of_two_rows():
    x = (torch.rand(50, 7, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    j = next(j for j in range(1, 50) if not torch.equal(x[0], x[j]))
    y = x.clone()
    y[[0, j]] = y[[j, 0]]
    assert data_checksum(x) == data_checksum(x.clone()) != data_checksum(y)
    assert data_checksum(x, chunk=3) == data_checksum(x)


def test_a_backend_the_device_does_not_support_is_refused_before_any_group(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="backend 'nccl' does not support device 'cpu'"):
        D.ensure_process_group("cpu", backend="nccl")
    assert not torch.distributed.is_initialized()


def test_only_rank_0_writes_files(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    assert write_json(tmp_path / "a.json", {"x": 1}) == tmp_path / "a.json"
    assert not (tmp_path / "a.json").exists()
    monkeypatch.setenv("RANK", "0")
    write_json(tmp_path / "a.json", {"x": 1})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1}


def test_bytes_all_reduced_per_step_are_the_gradients_and_the_loss_values():
    from discrete_ebm.models import RBM

    params = list(RBM(5, 3).parameters())  # W 5×3, b 5, c 3: 23 float32 values
    assert bytes_per_step(params) == 23 * 4 + 16
    assert bytes_per_step(params, writes_gradients=True) == 23 * 4 + 8


def test_sharding_parameters_refuses_what_cannot_be_sharded():
    from discrete_ebm.models import RBM
    from discrete_ebm.objectives import FusedPCD, PseudoLikelihood

    rbm = RBM(5, 3)
    with pytest.raises(ValueError, match="needs an objective trained by autograd; FusedPCD"):
        shard_energy(rbm, FusedPCD(4), None)
    with pytest.raises(ValueError, match="optimizer=None or a callable"):
        shard_energy(rbm, PseudoLikelihood(), torch.optim.SGD(rbm.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="does not take l1 > 0"):
        shard_energy(rbm, PseudoLikelihood(), None, l1=0.01)


# ------------------------------------------------------------- two processes
EXPERIMENT = """
import torch
from discrete_ebm import fit
from discrete_ebm.data.ising import lattice_model, trainable_ising
from discrete_ebm.evaluation import exact
from discrete_ebm.objectives import PseudoLikelihood


class Recording(PseudoLikelihood):
    def __init__(self):
        super().__init__()
        self.sizes = []

    def loss(self, model, x, generator=None):
        self.sizes.append(x.shape[0])
        return super().loss(model, x, generator)


def run():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    p = exact.probabilities(lattice_model(3, 0.2))
    x = exact.all_states(9)[torch.multinomial(p, 305, replacement=True, generator=g)].float()
    model, objective = trainable_ising(9), Recording()
    history = fit(model, objective, x, steps=30, batch_size=40,
                  optimizer=lambda params: torch.optim.SGD(params, lr=0.5),
                  generator=torch.Generator().manual_seed(1), progress=False)
    return model.J.detach(), history.loss, objective.sizes
"""


def test_torchrun_fit_equals_the_single_process_fit_each_rank_taking_half_of_every_batch(
    tmp_path, load_script
):
    (tmp_path / "experiment.py").write_text(EXPERIMENT)
    script = """
        import json, torch
        import discrete_ebm.distributed as D
        from experiment import run
        J, loss, sizes = run()
        out = {"J": J.tolist(), "loss": loss, "sizes": sizes}
        json.dump(out, open(f"rank{D.rank()}.json", "w"))
    """
    torchrun(tmp_path, script)
    J, loss, sizes = load_script(tmp_path / "experiment.py").run()
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    # 305 rows in batches of 40: 7 full batches (20 rows per rank) and a last one of 25 rows
    # (13 + 12, weighted 13/25 and 12/25); 30 steps cross 3 epoch ends
    epoch = [40] * 7 + [25]
    assert sizes == (epoch * 4)[:30]
    assert ranks[0]["sizes"] == ([20] * 7 + [13]) * 3 + [20] * 6
    assert ranks[1]["sizes"] == ([20] * 7 + [12]) * 3 + [20] * 6
    assert J.abs().max() > 0.1  # the couplings moved
    for r in ranks:
        assert (torch.tensor(r["J"]) - J).abs().max() <= 1e-5
        assert max(abs(a - b) for a, b in zip(r["loss"], loss, strict=True)) <= 1e-5


LEARN = """
    import sys, torch
    torch.set_num_threads(1)
    from discrete_ebm.data.ising import benchmark_rmse, lattice_model
    from discrete_ebm.evaluation import exact
    from discrete_ebm.io import write_json
    from discrete_ebm.recipes.ising import learn_couplings
    import discrete_ebm.distributed as D

    true = lattice_model(4, 0.2)  # tests/conftest.py's lattice_data
    g = torch.Generator().manual_seed(0)
    idx = torch.multinomial(exact.probabilities(true), 2000, replacement=True, generator=g)
    x, J = exact.all_states(16)[idx].float(), true.J.detach()
    g = torch.Generator().manual_seed(1)
    model, h = learn_couplings(x, sys.argv[1], steps=600, generator=g)
    rmse = benchmark_rmse(model.J.detach(), J)
    out = {"rmse": rmse, "world": D.world_size(), "first": h.loss[0], "last": h.loss[-1]}
    write_json("result.json", out)
    write_json(f"written_by_rank{D.rank()}.json", {})
"""


@pytest.mark.parametrize("objective", ["pcd", "ed-bern"])
def test_two_ranks_recover_the_4x4_lattice_couplings(tmp_path, objective):
    two_ranks(tmp_path, LEARN, objective)
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["world"] == 2
    # the single-process tolerance of tests/test_ising_learning.py (benchmark scale J/2)
    assert 2 * result["rmse"] < 0.05
    assert result["last"] < result["first"]
    assert sorted(p.name for p in tmp_path.glob("written_by_*")) == ["written_by_rank0.json"]


RESUME = """
    import datetime, os, sys, torch
    torch.set_num_threads(1)
    import discrete_ebm.distributed as D
    from discrete_ebm import fit
    from discrete_ebm.data.ising import trainable_ising
    from discrete_ebm.io import save_torch
    from discrete_ebm.models import RBM
    from discrete_ebm.objectives import ContrastiveDivergence, FusedPCD
    from discrete_ebm.samplers import BlockGibbsSampler

    mode = sys.argv[1]
    # fit joins a group that exists; this one gives up on a dead peer within 30 s
    torch.distributed.init_process_group("gloo", timeout=datetime.timedelta(seconds=30))
    x = (torch.rand(90, 9, generator=torch.Generator().manual_seed(0)) < 0.4).float()

    def pcd(steps, checkpoint=None, callbacks=()):
        model = trainable_ising(9)
        obj = ContrastiveDivergence(BlockGibbsSampler(model), k=2, persistent=True, n_chains=12)
        fit(model, obj, x, steps=steps, batch_size=20, lr=0.05, checkpoint=checkpoint,
            checkpoint_every=5, generator=torch.Generator().manual_seed(3), callbacks=callbacks,
            progress=False)
        return model

    def rbm(steps, checkpoint=None, callbacks=()):
        torch.manual_seed(0)
        model = RBM(9, 5)
        fit(model, FusedPCD(20, k=2, init="data", uniforms="numpy"), x, steps=steps,
            batch_size=20, optimizer=lambda p: torch.optim.SGD(p, lr=0.1), checkpoint=checkpoint,
            checkpoint_every=5, generator=torch.Generator().manual_seed(4), callbacks=callbacks,
            progress=False)
        return model

    def stop_at(k, hard):
        def cb(step, model, history):
            if step == k and not hard:
                raise KeyboardInterrupt  # stopped on both ranks
            if step == k and D.rank() == 1:
                os._exit(1)  # killed: rank 0 fails at the next collective, or torchrun ends it
        return [cb]

    if mode == "first":
        save_torch({"pcd": pcd(20).state_dict(), "rbm": rbm(20).state_dict()}, "full.pt")
        try:
            rbm(20, "rbm.ckpt", stop_at(13, hard=False))
        except KeyboardInterrupt:
            pass
        pcd(20, "pcd.ckpt", stop_at(13, hard=True))
    else:
        save_torch({"pcd": pcd(20, "pcd.ckpt").state_dict(),
                    "rbm": rbm(20, "rbm.ckpt").state_dict()}, "resumed.pt")
    torch.distributed.destroy_process_group()
"""


def test_a_killed_two_rank_run_resumes_to_the_uninterrupted_parameters_bit_for_bit(tmp_path):
    codes = two_ranks(tmp_path, RESUME, "first", check=False)
    assert codes[1] == 1 and codes[0] != 0  # rank 1 was killed at step 13, rank 0 failed
    assert (tmp_path / "full.pt").exists(), (tmp_path / "rank0.log").read_text()[-4000:]
    for name in ("pcd", "rbm"):  # last checkpoints: step 10 of 20
        state = torch.load(tmp_path / f"{name}.ckpt", weights_only=True)
        assert state["step"] == 10 and state["world_size"] == 2 and len(state["ranks"]) == 2
        g0, g1 = (r["generator"] for r in state["ranks"])
        assert not torch.equal(g0, g1)  # each rank has its own stream
    chains = [r["objective"]["chains"] for r in state["ranks"]]
    assert [c.shape[0] for c in chains] == [10, 10]  # 20 persistent chains, 10 per rank
    two_ranks(tmp_path, RESUME, "resume")
    full = torch.load(tmp_path / "full.pt", weights_only=True)
    resumed = torch.load(tmp_path / "resumed.pt", weights_only=True)
    for name in ("pcd", "rbm"):
        for key, value in full[name].items():
            assert torch.equal(value, resumed[name][key]), (name, key)


BAD = """
    import json, torch
    torch.set_num_threads(1)
    import discrete_ebm.distributed as D
    from discrete_ebm import fit
    from discrete_ebm.data.ising import trainable_ising
    from discrete_ebm.objectives import ContrastiveDivergence, PseudoLikelihood
    from discrete_ebm.samplers import BlockGibbsSampler

    D.ensure_process_group("cpu")
    x = (torch.rand(300, 9, generator=torch.Generator().manual_seed(0)) < 0.4).float()
    errors = {}

    def attempt(name, data=x, objective=None, **kw):
        model = trainable_ising(9)
        kw = {"steps": 2, "batch_size": 30, "progress": False,
              "generator": torch.Generator().manual_seed(0), **kw}
        try:
            fit(model, objective or PseudoLikelihood(), data, **kw)
        except ValueError as e:
            errors[name] = str(e)

    attempt("batch", batch_size=41)
    model = trainable_ising(9)
    attempt("chains", objective=ContrastiveDivergence(
        BlockGibbsSampler(model), persistent=True, n_chains=7))
    attempt("length", data=x[: 300 - D.rank()])
    attempt("values", data=x if D.rank() == 0 else 1 - x)
    attempt("backend", backend="nccl")
    attempt("last", data=x[:121], batch_size=60)
    attempt("processes", checkpoint="one_process.ckpt")
    rows = torch.utils.data.TensorDataset(x)
    loader = torch.utils.data.DataLoader(  # shuffled differently on each rank
        rows, batch_size=30, shuffle=True, generator=torch.Generator().manual_seed(D.rank()))
    attempt("loader", data=loader)
    json.dump(errors, open(f"errors{D.rank()}.json", "w"))
"""


def test_bad_launches_get_errors_naming_the_problem(tmp_path):
    from discrete_ebm import fit
    from discrete_ebm.data.ising import trainable_ising
    from discrete_ebm.objectives import PseudoLikelihood

    x = (torch.rand(300, 9, generator=torch.Generator().manual_seed(0)) < 0.4).float()
    fit(
        trainable_ising(9),
        PseudoLikelihood(),
        x,
        steps=2,
        batch_size=30,
        progress=False,
        generator=torch.Generator().manual_seed(0),
        checkpoint=tmp_path / "one_process.ckpt",
    )
    two_ranks(tmp_path, BAD)
    for r in (0, 1):
        errors = json.loads((tmp_path / f"errors{r}.json").read_text())
        assert errors["batch"] == "batch_size=41 is not divisible by the world size 2"
        assert errors["chains"] == "n_chains=7 is not divisible by the world size 2"
        assert errors["length"].startswith(
            "data have different lengths on different ranks (rank 0: 300, rank 1: 299)"
        )
        assert errors["values"].startswith("data differ between ranks")
        assert errors["backend"].startswith("backend 'nccl' does not support device 'cpu'")
        assert errors["last"].startswith(
            "the last batch of an epoch has 1 rows (121 rows, batch_size=60), fewer than the "
            "world size 2"
        )
        assert "written by 1 process(es), this run has 2" in errors["processes"]
        assert errors["loader"].startswith(
            "the data loader gives different batches on different ranks"
        )


FSDP = """
    import sys, torch
    torch.set_num_threads(1)
    from discrete_ebm import MLPEnergy, fit
    from discrete_ebm.io import save_torch
    from discrete_ebm.objectives import BernoulliED
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    x = (torch.rand(64, 12, generator=torch.Generator().manual_seed(0)) < 0.3).float()

    def run(steps, shard, checkpoint=None):
        torch.manual_seed(0)
        model = MLPEnergy(12, hidden=(16,), binary=True)
        fit(model, BernoulliED(n_negatives=4), x, steps=steps, batch_size=16, lr=0.01,
            checkpoint=checkpoint, checkpoint_every=3, shard_parameters=shard,
            generator=torch.Generator().manual_seed(1), progress=False)
        kind = type(next(model.parameters())).__name__
        if shard:  # whole tensors from the shards (a collective)
            options = StateDictOptions(full_state_dict=True, cpu_offload=True)
            return kind, get_model_state_dict(model, options=options)
        return kind, model.state_dict()

    kinds, ddp = run(10, False)
    kind_sharded, sharded = run(10, True)
    run(5, True, "fsdp.ckpt")
    _, resumed = run(10, True, "fsdp.ckpt")
    save_torch({"kinds": [kinds, kind_sharded], "ddp": ddp, "fsdp": sharded,
                "resumed": resumed}, "fsdp.pt")
"""


def test_fsdp2_sharded_energy_trains_like_ddp_and_resumes_exactly(tmp_path):
    two_ranks(tmp_path, FSDP)
    out = torch.load(tmp_path / "fsdp.pt", weights_only=True)
    assert out["kinds"] == ["Parameter", "DTensor"]  # the parameters really were sharded
    for key, value in out["ddp"].items():
        assert (out["fsdp"][key] - value).abs().max() <= 1e-6, key
        assert torch.equal(out["resumed"][key], out["fsdp"][key]), key


def test_the_cli_under_torchrun_reports_and_writes_once(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    cmd += ["--master-addr", "127.0.0.1", "--master-port", str(_free_port())]
    cmd += ["-m", "discrete_ebm", "ising", "--lattice", "3", "--samples", "120", "--sweeps"]
    cmd += ["5", "--steps", "6", "--batch-size", "40", "--out", "run", "--threads", "1"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = proc.stdout.splitlines()
    assert sum(line.startswith("ed-bern: RMSE(J/2) = ") for line in lines) == 1
    assert sum("wrote run/couplings.npz" in line for line in lines) == 1
    assert proc.stderr.count("sampling 120 lattice states") == 1  # rank 1 runs quietly
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "couplings.npz",
        "data.npz",
        "ising.json",
        "ising.png",
    ]
