"""lbgap.train.checkpoint: what is saved loads back exactly, and damage is refused naming the file."""

from __future__ import annotations

import pytest
import torch

from lbgap.train.checkpoint import Checkpoint, CheckpointError, Iterates, checkpoint_seeds, iterates_digest, state_digest


def test_a_saved_checkpoint_loads_back_bit_for_bit(tmp_path, small_mlp):
    x0, final = small_mlp(0).state_dict(), small_mlp(1).state_dict()
    path = Checkpoint(x0, final, batch_size=32, seed=4).save(tmp_path)
    assert path.name == "seed_4.pt" and checkpoint_seeds(tmp_path) == [4]
    loaded = Checkpoint.load(tmp_path, 4, small_mlp(0))
    assert (loaded.batch_size, loaded.seed) == (32, 4)
    assert all(torch.equal(loaded.x0[k], x0[k]) and torch.equal(loaded.final[k], final[k]) for k in x0)


def test_the_digest_covers_every_byte_name_and_shape(small_mlp):
    state = small_mlp(0).state_dict()
    digest = state_digest(state, state)
    changed = {k: v.clone() for k, v in state.items()}
    changed["net.1.weight"].view(-1)[3] = torch.nextafter(changed["net.1.weight"].view(-1)[3], torch.tensor(1.0))
    assert state_digest(state, changed) != digest  # one ulp in one weight
    assert state_digest(changed, state) != state_digest(state, changed)  # which state is which matters
    renamed = {("x." + k): v for k, v in state.items()}
    assert state_digest(state, renamed) != digest


def test_damaged_or_foreign_checkpoints_are_refused(tmp_path, small_mlp):
    state = small_mlp(0).state_dict()
    Checkpoint(state, state, batch_size=32, seed=0).save(tmp_path)
    with pytest.raises(CheckpointError, match="does not fit the configured network"):
        Checkpoint.load(tmp_path, 0, small_mlp(0, width=9))
    raw = torch.load(tmp_path / "seed_0.pt", weights_only=True)
    raw["final"]["net.1.weight"] += 1.0  # weights changed after the digest was taken
    torch.save(raw, tmp_path / "seed_0.pt")
    with pytest.raises(CheckpointError, match="do not match their sha256"):
        Checkpoint.load(tmp_path, 0)
    (tmp_path / "seed_0.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="unreadable"):
        Checkpoint.load(tmp_path, 0)
    with pytest.raises(CheckpointError, match="not found"):
        Checkpoint.load(tmp_path, 1)


def test_iterates_load_back_bit_for_bit_and_damage_is_refused(tmp_path, small_mlp):
    states = {0: small_mlp(0).state_dict(), 4: small_mlp(1).state_dict(), 9: small_mlp(2).state_dict()}
    path = Iterates(seed=2, stopped_at=30, states=states).save(tmp_path)
    assert path.name == "seed_2.pt"
    loaded = Iterates.load(tmp_path, 2, small_mlp(0))
    assert (loaded.seed, loaded.stopped_at, sorted(loaded.states)) == (2, 30, [0, 4, 9])
    assert all(torch.equal(loaded.iterate(e)[k], states[e][k]) for e in states for k in states[e])
    with pytest.raises(KeyError, match=r"epoch 5 was not kept \(kept: 0, 4, 9\)"):
        loaded.iterate(5)
    assert iterates_digest(states) != iterates_digest({0: states[0], 5: states[4], 9: states[9]})  # epochs count
    with pytest.raises(CheckpointError, match="does not fit the configured network"):
        Iterates.load(tmp_path, 2, small_mlp(0, width=9))
    raw = torch.load(path, weights_only=True)
    raw["states"][9]["net.1.weight"] += 1.0
    torch.save(raw, path)
    with pytest.raises(CheckpointError, match="do not match their sha256"):
        Iterates.load(tmp_path, 2)
    with pytest.raises(CheckpointError, match="lacks"):
        Checkpoint.load(tmp_path, 2)  # an iterates file is not a checkpoint


def test_the_target_iterate_is_saved_covered_by_the_digest_and_optional(tmp_path, small_mlp):
    x0, final, at = small_mlp(0).state_dict(), small_mlp(1).state_dict(), small_mlp(2).state_dict()
    Checkpoint(x0, final, batch_size=32, seed=1, at_target=at, target_epoch=7).save(tmp_path)
    loaded = Checkpoint.load(tmp_path, 1, small_mlp(0))
    assert loaded.target_epoch == 7 and all(torch.equal(loaded.at_target[k], at[k]) for k in at)
    with pytest.raises(ValueError, match="both or neither"):
        Checkpoint(x0, final, batch_size=32, seed=1, at_target=at)
    assert state_digest(x0, final, at, 7) not in (state_digest(x0, final), state_digest(x0, final, final, 7), state_digest(x0, final, at, 8))
    # one ulp inside the target iterate is refused
    raw = torch.load(tmp_path / "seed_1.pt", weights_only=True)
    raw["at_target"]["net.1.weight"].view(-1)[0] = torch.nextafter(raw["at_target"]["net.1.weight"].view(-1)[0], torch.tensor(1.0))
    torch.save(raw, tmp_path / "seed_1.pt")
    with pytest.raises(CheckpointError, match="corrupt"):
        Checkpoint.load(tmp_path, 1)
    # a run that never reached the target, and a file written before runs kept one, load with None
    Checkpoint(x0, final, batch_size=32, seed=2).save(tmp_path)
    older = tmp_path / "older"
    older.mkdir()
    torch.save({"x0": x0, "final": final, "batch_size": 32, "seed": 3, "sha256": state_digest(x0, final)}, older / "seed_3.pt")
    for folder, seed in ((tmp_path, 2), (older, 3)):
        loaded = Checkpoint.load(folder, seed, small_mlp(0))
        assert loaded.at_target is None and loaded.target_epoch is None 
