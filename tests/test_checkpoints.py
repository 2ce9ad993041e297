"""fit's checkpoints: they name the run they belong to, carry a checksum, hold finite
parameters only, and are locked while a run trains on them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest
import torch

from discrete_ebm.models.ising import IsingModel
from discrete_ebm.models.rbm import RBM
from discrete_ebm.objectives import FusedPCD, RBMPersistentCD
from discrete_ebm.objectives.energy_discrepancy import BernoulliED, GridED
from discrete_ebm.training import CheckpointCorrupted, CheckpointInUse, TrainingDiverged, fit

D = 7


def _data(seed: int = 0, n: int = 40, d: int = D) -> torch.Tensor:
    return (torch.rand(n, d, generator=torch.Generator().manual_seed(seed)) < 0.5).float()


def _ising(d: int = D) -> IsingModel:
    return IsingModel(torch.zeros(d, d), torch.zeros(d))


def _fit(ckpt, data=None, *, model=None, objective=None, steps=6, batch_size=8, **kw):
    model = _ising() if model is None else model
    kw.setdefault("generator", torch.Generator().manual_seed(0))
    hist = fit(
        model,
        BernoulliED(epsilon=0.2, n_negatives=4) if objective is None else objective,
        _data() if data is None else data,
        steps=steps,
        batch_size=batch_size,
        lr=0.05,
        checkpoint=ckpt,
        checkpoint_every=2,
        progress=False,
        **kw,
    )
    return model, hist


# ------------------------------------------------------------------ the run it belongs to
def test_resuming_with_other_data_is_refused_naming_the_data(tmp_path):
    ckpt = tmp_path / "run.pt"
    _fit(ckpt, _data(0), steps=4)
    before = ckpt.read_bytes()
    with pytest.raises(ValueError, match="written for another run") as e:
        _fit(ckpt, _data(1), steps=8)
    msg = str(e.value)
    assert str(ckpt) in msg and "data of shape (40, 7)" in msg and "sha256" in msg
    assert "resume=False" in msg
    assert ckpt.read_bytes() == before
    # the same data (as float64 NumPy rows: the model's dtype is what counts) resumes
    _, hist = _fit(ckpt, _data(0).double().numpy(), steps=8)
    assert hist.steps == 8
    # resume=False starts afresh on the other data
    _, hist = _fit(ckpt, _data(1), steps=3, resume=False)
    assert hist.steps == 3


def test_resuming_another_model_shape_objective_or_optimiser_is_refused(tmp_path):
    ckpt = tmp_path / "run.pt"
    _fit(ckpt, steps=4)
    before = ckpt.read_bytes()
    cases = [
        ({"model": _ising(9), "data": _data(0, d=9)}, r"model tensor 'h': shape \(7,\) there"),
        ({"objective": BernoulliED(epsilon=0.3, n_negatives=4)}, "epsilon=0.2 there, epsilon=0.3"),
        ({"objective": BernoulliED(epsilon=0.2, n_negatives=5)}, "n_negatives=4 there"),
        ({"objective": GridED(n_negatives=4)}, "objective BernoulliED there, GridED here"),
        ({"optimizer": lambda p: torch.optim.SGD(p, lr=0.1)}, "optimiser Adam there, SGD here"),
        ({"batch_size": 4}, "in batches of 8 there, this run's is .* in batches of 4"),
    ]
    for kw, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            _fit(ckpt, steps=8, **kw)
        assert ckpt.read_bytes() == before


@pytest.mark.parametrize(
    "first, second, pattern",
    [
        (lambda: FusedPCD(8), lambda: FusedPCD(8, uniforms="numpy"), "uniforms='torch' there"),
        (lambda: FusedPCD(8), lambda: FusedPCD(8, k=2), "k=1 there, k=2 here"),
        (lambda: RBMPersistentCD(k=1), lambda: RBMPersistentCD(k=3), "k=1 there, k=3 here"),
        (lambda: RBMPersistentCD(), lambda: FusedPCD(8), "RBMPersistentCD there, FusedPCD"),
    ],
)
def test_rbm_objective_settings_are_part_of_the_run(tmp_path, first, second, pattern):
    ckpt = tmp_path / "rbm.pt"

    def run(objective, steps):
        rbm = RBM(D, 3, generator=torch.Generator().manual_seed(1))
        fit(rbm, objective, _data(), steps=steps, batch_size=8, checkpoint=ckpt, progress=False)

    run(first(), 2)
    run(first(), 4)  # the same settings resume (n_chains chosen from the data is no setting)
    with pytest.raises(ValueError, match=pattern):
        run(second(), 6)


class _Dynamic(torch.utils.data.Dataset):
    """Grey levels binarised afresh at every read, from the dataset's own generator."""

    def __init__(self, grey: torch.Tensor, seed: int = 0):
        self.grey, self.generator = grey, torch.Generator().manual_seed(seed)

    def __len__(self):
        return len(self.grey)

    def __getitem__(self, i):
        return (torch.rand(D, generator=self.generator) < self.grey[i]).float()


def test_a_loader_is_fingerprinted_without_touching_its_random_streams(tmp_path):
    grey = torch.rand(40, D, generator=torch.Generator().manual_seed(5))

    def run(ckpt, grey, steps=6):
        loader = torch.utils.data.DataLoader(
            _Dynamic(grey), batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(2)
        )
        model, _ = _fit(ckpt, loader, steps=steps)
        return model.J.detach().clone()

    straight = run(None, grey)
    assert torch.equal(run(tmp_path / "a.pt", grey), straight)  # fingerprinting drew nothing
    ckpt = tmp_path / "b.pt"
    run(ckpt, grey, steps=3)
    assert torch.equal(run(ckpt, grey), straight)  # resumed bit for bit
    with pytest.raises(ValueError, match=r"a DataLoader of _Dynamic \(length 40, batch size 8, "):
        run(ckpt, grey.flip(0), steps=9)


# ---------------------------------------------------------------------------- checksums
@pytest.mark.parametrize("where", [0, 0.25, 0.5, 0.75, -300, -70, -1])
def test_a_flipped_byte_is_reported_naming_the_file_and_the_file_is_kept(tmp_path, where):
    ckpt = tmp_path / "run.pt"
    _fit(ckpt, steps=4)
    data = bytearray(ckpt.read_bytes())
    pos = int(where * len(data)) if isinstance(where, float) else where
    data[pos] ^= 0x01
    ckpt.write_bytes(bytes(data))
    with pytest.raises(CheckpointCorrupted, match=re.escape(f"checkpoint {ckpt} is damaged")):
        _fit(ckpt, steps=8)
    assert ckpt.read_bytes() == bytes(data)


@pytest.mark.parametrize("keep", [0, 10, 0.5, -22, -1])
def test_a_truncated_file_is_reported_naming_the_file_and_the_file_is_kept(tmp_path, keep):
    ckpt = tmp_path / "run.pt"
    _fit(ckpt, steps=4)
    full = ckpt.read_bytes()
    cut = full[: int(keep * len(full)) if isinstance(keep, float) else keep]
    ckpt.write_bytes(cut)
    with pytest.raises(ValueError, match=re.escape(f"checkpoint {ckpt} is damaged")) as e:
        _fit(ckpt, steps=8)
    assert isinstance(e.value, CheckpointCorrupted)
    assert ckpt.read_bytes() == cut


def test_a_checkpoint_remains_a_torch_file(tmp_path):
    ckpt = tmp_path / "run.pt"
    model, _ = _fit(ckpt, steps=4)
    state = torch.load(ckpt, weights_only=True)
    assert state["step"] == 4 and torch.equal(state["model"]["h"], model.h.detach())
    assert state["run"]["data"]["shape"] == [40, D]


# ------------------------------------------------------------------ finite parameters
def _pull_fields(model, x, generator):
    """A plain autograd loss ``-10 mean(x·h)``: the gradient of ``h`` is ``-10 mean(x)``."""
    return -10 * (x @ model.h).mean()


def test_a_step_making_a_weight_infinite_stops_before_it_is_saved(tmp_path):
    ckpt = tmp_path / "run.pt"
    model = _ising()
    with pytest.raises(TrainingDiverged, match=r"step 3: the value of 'h' is not finite") as e:
        fit(
            model,
            _pull_fields,
            _data(),
            steps=3,
            batch_size=8,
            optimizer=lambda p: torch.optim.SGD(p, lr=0.01),
            scheduler=lambda s: 1.0 if s < 2 else 1e40,  # step 3 at lr 1e38: h -> -inf
            checkpoint=ckpt,
            checkpoint_every=2,
            progress=False,
        )
    assert e.value.parameter == "h" and str(ckpt) in str(e.value)
    assert not bool(model.h.isfinite().all())
    state = torch.load(ckpt, weights_only=True)
    assert state["step"] == 2
    assert all(bool(t.isfinite().all()) for t in state["model"].values())
    # without a checkpoint the run stops as well instead of returning infinite weights
    with pytest.raises(TrainingDiverged, match="'h' is not finite"):
        fit(
            _ising(),
            _pull_fields,
            _data(),
            steps=1,
            optimizer=lambda p: torch.optim.SGD(p, lr=1e38),
            progress=False,
        )


# --------------------------------------------------------------------- lock and files
_HOLDER = textwrap.dedent(
    """
    import fcntl, os, sys
    fd = os.open(sys.argv[1] + ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("locked", flush=True)
    sys.stdin.readline()  # hold the lock until the test says go
    """
)


@pytest.mark.skipif(os.name != "posix", reason="flock is POSIX")
def test_a_second_process_on_the_same_checkpoint_gets_a_clear_error(tmp_path):
    ckpt = tmp_path / "run.pt"
    _fit(ckpt, steps=2)
    before = ckpt.read_bytes()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(ckpt)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(CheckpointInUse, match=re.escape(f"checkpoint '{ckpt}' is in use")) as e:
            _fit(ckpt, steps=4)
        assert f"its lock '{ckpt}.lock'" in str(e.value)
        assert ckpt.read_bytes() == before
    finally:
        holder.communicate("go\n", timeout=60)
    _, hist = _fit(ckpt, steps=4)  # free again once the holder is gone
    assert hist.steps == 4 and not (tmp_path / "run.pt.lock").exists()


def test_a_second_fit_on_the_same_checkpoint_in_this_process_is_refused(tmp_path):
    ckpt = tmp_path / "run.pt"
    errors = []

    def nested(step, model, history):
        if step == 1:
            try:
                _fit(ckpt, steps=2)
            except CheckpointInUse as e:
                errors.append(str(e))

    _fit(ckpt, steps=2, callbacks=[nested])
    assert len(errors) == 1 and f"checkpoint '{ckpt}' is in use" in errors[0]


def test_the_lock_is_released_when_fit_raises(tmp_path):
    ckpt = tmp_path / "run.pt"

    def boom(step, model, history):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _fit(ckpt, steps=4, callbacks=[boom])
    assert not (tmp_path / "run.pt.lock").exists()
    _, hist = _fit(ckpt, steps=4)
    assert hist.steps == 4


def test_temporary_files_of_killed_writes_are_removed(tmp_path):
    ckpt = tmp_path / "run.pt"
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(gone.stdout)
    stale = tmp_path / f"run.tmp{dead_pid}.pt"
    stale.write_bytes(b"half a checkpoint")
    alive = tmp_path / f"run.tmp{os.getppid()}.pt"  # a running process's write: kept
    alive.write_bytes(b"being written")
    other = tmp_path / "run.tmpnotapid.pt"
    other.write_bytes(b"not ours")
    _fit(ckpt, steps=2)
    assert not stale.exists()
    assert alive.exists() and other.exists()


def test_bad_checkpoint_paths_are_refused_before_training(tmp_path):
    steps = []

    def count(step, model, history):
        steps.append(step)

    with pytest.raises(ValueError, match="checkpoint must be a file path or None, got ''"):
        _fit("", callbacks=[count])
    plain = tmp_path / "plain"
    plain.write_text("a file")
    with pytest.raises(
        ValueError,
        match=re.escape(f"checkpoint '{plain}/sub/run.pt' cannot be written: '{plain}' is a file"),
    ):
        _fit(plain / "sub" / "run.pt", callbacks=[count])
    with pytest.raises(ValueError, match=re.escape(f"checkpoint '{tmp_path}' is a folder")):
        _fit(tmp_path, callbacks=[count])
    assert steps == [] and plain.read_text() == "a file"
    # a folder that does not exist yet is created
    _fit(tmp_path / "new" / "deeper" / "run.pt", steps=2)
    assert (tmp_path / "new" / "deeper" / "run.pt").is_file()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_folder_is_refused_before_training(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(
            PermissionError, match=re.escape(f"checkpoint '{folder}/run.pt' cannot be written")
        ):
            _fit(folder / "run.pt")
    finally:
        folder.chmod(0o700)
