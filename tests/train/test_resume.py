"""lbgap.train.resume and the loop's snapshots: a run continued from any snapshot, or after an interruption
of train_seeds, is the uninterrupted run bit for bit (CPU)."""

from __future__ import annotations

import pytest

from lbgap.train.loop import train
from lbgap.train.recipe import Recipe
from lbgap.train.resume import ResumeFolder
from lbgap.train.seeds import train_seeds


class Interrupted(Exception):
    pass


def _without_seconds(final: dict) -> dict:
    return {k: v for k, v in final.items() if k != "seconds"}


def test_a_run_continued_from_any_epochs_snapshot_is_the_uninterrupted_run(tmp_path, tiny_data, train_config, small_mlp, states_equal):
    config = train_config(max_epochs=5, lr=1e-2)
    folder = ResumeFolder(tmp_path / "resume", "key")
    whole, saved = small_mlp(seed=3, depth=2), {}

    def keep(state):  # through the file, as a stage would: serialization is part of what is tested
        folder.save_progress(0, state, {}, 0.0)
        saved[state.epoch] = folder.progress(0)[0]

    history = train(whole, tiny_data, batch_size=16, config=config, seed=3, on_snapshot=keep)
    assert sorted(saved) == [1, 2, 3, 4]  # not after the last epoch: the run is over
    for epoch in (1, 3):
        resumed, trained = small_mlp(seed=3, depth=2), []
        rest = train(resumed, tiny_data, batch_size=16, config=config, seed=3, resume_from=saved[epoch],
                     on_epoch=lambda record: trained.append(record.epoch))
        assert trained == list(range(epoch + 1, 6))  # only the epochs after the snapshot ran again
        assert rest == history
        assert states_equal(whole.state_dict(), resumed.state_dict())


def test_a_snapshot_restores_the_learning_rate_schedule_and_the_dropout_stream(tmp_path, tiny_data, train_config, states_equal):
    from lbgap.models import build_model

    def model():  # C-style dropout is not in the MLP: add one, so the restored dropout stream matters
        import torch.nn as nn
        net = build_model("mlp", input_shape=(6,), num_classes=3, seed=0, options={"width": 8, "depth": 1})
        return nn.Sequential(nn.Dropout(0.3), net)

    recipe = Recipe(learning_rate=lambda epochs_done: 1.0 / (1.0 + epochs_done))
    config, snapshots = train_config(max_epochs=4, lr=1e-2), {}
    folder = ResumeFolder(tmp_path / "resume", "key")

    def keep(state):
        folder.save_progress(0, state, {}, 0.0)
        snapshots[state.epoch] = folder.progress(0)[0]

    whole = model()
    history = train(whole, tiny_data, batch_size=16, config=config, seed=1, recipe=recipe, on_snapshot=keep)
    resumed = model()
    assert train(resumed, tiny_data, batch_size=16, config=config, seed=1, recipe=recipe, resume_from=snapshots[2]) == history
    assert states_equal(whole.state_dict(), resumed.state_dict())


def _run(folder: ResumeFolder | None, data, config, make, fail_at=None, recipe=None):
    def on_epoch(seed, record):
        if (seed, record.epoch) == fail_at:
            raise Interrupted
    kwargs = {} if recipe is None else {"recipe_for_seed": lambda seed: recipe}
    return list(train_seeds(make, data, batch_size=16, seeds=3, config=config, amp=False, keep_epochs={1, 3},
                            on_epoch=on_epoch, resume=folder, **kwargs))


@pytest.mark.parametrize("fail_at", [(0, 2), (1, 3), (2, 4)])
def test_train_seeds_interrupted_anywhere_resumes_to_the_uninterrupted_result(tmp_path, tiny_data, train_config, small_mlp, states_equal, fail_at):
    plain = _run(None, tiny_data, train_config(max_epochs=4, lr=1e-2), small_mlp)
    # a target loss that seed 0 reaches at epoch 2: the iterate kept there must survive any interruption
    config = train_config(max_epochs=4, lr=1e-2, target_loss=plain[0][3][2]["train_loss"])
    expected = _run(None, tiny_data, config, small_mlp)
    assert expected[0][0].target_epoch == 2
    with pytest.raises(Interrupted):
        _run(ResumeFolder(tmp_path / "r", "key"), tiny_data, config, small_mlp, fail_at=fail_at)
    folder = ResumeFolder(tmp_path / "r", "key")
    assert f"seed {fail_at[0]} from epoch {fail_at[1] - 1}" in folder.describe()
    trained = []
    got = list(train_seeds(small_mlp, tiny_data, batch_size=16, seeds=3, config=config, amp=False, keep_epochs={1, 3},
                           on_epoch=lambda seed, record: trained.append((seed, record.epoch)), resume=folder))
    # finished seeds are not trained again; the interrupted one continues after its last snapshot
    assert trained[0] == fail_at and all(seed >= fail_at[0] for seed, _ in trained)
    for (c1, i1, f1, h1), (c2, i2, f2, h2) in zip(expected, got, strict=True):
        assert states_equal(c1.x0, c2.x0) and states_equal(c1.final, c2.final)
        assert c1.target_epoch == c2.target_epoch and (c1.at_target is None) == (c2.at_target is None)
        assert c1.at_target is None or states_equal(c1.at_target, c2.at_target)
        assert sorted(i1.states) == sorted(i2.states) == [0, 1, 3] and i1.stopped_at == i2.stopped_at
        assert all(states_equal(i1.states[e], i2.states[e]) for e in i1.states)
        assert _without_seconds(f1) == _without_seconds(f2) and h1 == h2


def test_finished_seeds_are_reused_and_not_trained_again(tmp_path, tiny_data, train_config, small_mlp):
    config = train_config(max_epochs=2)
    with pytest.raises(Interrupted):
        _run(ResumeFolder(tmp_path / "r", "key"), tiny_data, config, small_mlp, fail_at=(2, 1))
    trained = []
    runs = train_seeds(small_mlp, tiny_data, batch_size=16, seeds=3, config=config, amp=False,
                       on_epoch=lambda seed, record: trained.append(seed), resume=ResumeFolder(tmp_path / "r", "key"))
    assert [c.seed for c, *_ in runs] == [0, 1, 2] and set(trained) == {2}


def test_a_recipe_that_is_not_resumable_restarts_its_seed_from_x0(tmp_path, tiny_data, train_config, small_mlp):
    config = train_config(max_epochs=3)
    recipe = Recipe(resumable=False)
    with pytest.raises(Interrupted):
        _run(ResumeFolder(tmp_path / "r", "key"), tiny_data, config, small_mlp, fail_at=(0, 2), recipe=recipe)
    assert not list((tmp_path / "r").glob("*.epoch.pt"))  # no snapshot was written
    epochs = []
    list(train_seeds(small_mlp, tiny_data, batch_size=16, seeds=1, config=config, amp=False, recipe_for_seed=lambda s: recipe,
                     on_epoch=lambda seed, record: epochs.append(record.epoch), resume=ResumeFolder(tmp_path / "r", "key")))
    assert epochs == [1, 2, 3]


def test_a_folder_left_by_other_settings_is_emptied(tmp_path, tiny_data, train_config, small_mlp):
    with pytest.raises(Interrupted):
        _run(ResumeFolder(tmp_path / "r", "old"), tiny_data, train_config(max_epochs=2), small_mlp, fail_at=(1, 1))
    assert ResumeFolder(tmp_path / "r", "old").finished(0) is not None
    fresh = ResumeFolder(tmp_path / "r", "new")
    assert fresh.finished(0) is None and fresh.describe() is None and (tmp_path / "r" / "key").read_text() == "new"


def test_damaged_files_rerun_the_seed_instead_of_failing(tmp_path, tiny_data, train_config, small_mlp):
    with pytest.raises(Interrupted):
        _run(ResumeFolder(tmp_path / "r", "key"), tiny_data, train_config(max_epochs=3), small_mlp, fail_at=(1, 2))
    folder = ResumeFolder(tmp_path / "r", "key")
    assert folder.finished(0) is not None and folder.progress(1) is not None
    (tmp_path / "r/seed_1.epoch.pt").write_bytes(b"not a snapshot")
    (tmp_path / "r/seed_0.json").write_text('{"history": []}')
    assert folder.finished(0) is None and folder.progress(1) is None


def test_a_lost_target_iterate_restarts_its_seed_instead_of_failing(tmp_path, tiny_data, train_config, small_mlp, states_equal):
    plain = _run(None, tiny_data, train_config(max_epochs=4, lr=1e-2), small_mlp)
    config = train_config(max_epochs=4, lr=1e-2, target_loss=plain[0][3][1]["train_loss"])  # reached in epoch 1
    expected = _run(None, tiny_data, config, small_mlp)
    with pytest.raises(Interrupted):
        _run(ResumeFolder(tmp_path / "r", "key"), tiny_data, config, small_mlp, fail_at=(0, 3))
    (tmp_path / "r" / "seed_0.target.pt").unlink()
    got = _run(ResumeFolder(tmp_path / "r", "key"), tiny_data, config, small_mlp)
    assert got[0][0].target_epoch == expected[0][0].target_epoch == 1
    assert states_equal(got[0][0].at_target, expected[0][0].at_target) and states_equal(got[0][0].final, expected[0][0].final)


def test_the_target_gate_survives_a_resume_between_records(tmp_path, tiny_data, train_config, small_mlp, states_equal):
    # records every 3 epochs; at lr 0.03 the loss passes 0.15 inside epoch 3, an epoch whose start (epoch 2's
    # unrecorded end, 0.24) opens the within-epoch checks, where the last record (x0's, 0.93) would not
    config = train_config(max_epochs=4, lr=3e-2, target_loss=0.15)
    recipe = Recipe(evaluate_every=3)
    expected = _run(None, tiny_data, config, small_mlp, recipe=recipe)
    steps = len(tiny_data.train) // 16
    assert expected[0][0].target_epoch == 3 and expected[0][2]["target_updates"] < 3 * steps  # mid-epoch
    with pytest.raises(Interrupted):
        _run(ResumeFolder(tmp_path / "r", "key"), tiny_data, config, small_mlp, fail_at=(0, 3), recipe=recipe)
    got = _run(ResumeFolder(tmp_path / "r", "key"), tiny_data, config, small_mlp, recipe=recipe)
    for (c1, _, f1, _), (c2, _, f2, _) in zip(expected, got, strict=True):
        assert f1["target_updates"] == f2["target_updates"] and states_equal(c1.at_target, c2.at_target)
